// The encrypted backup file format, streamed both ways:
//
//   "LKBACK01" | key id (16 hex chars) | IV (12 bytes) | AES-256-GCM ciphertext | tag (16 bytes)
//
// The 36-byte header is authenticated as AAD, so a changed key id or IV fails
// like changed data. The key id (first 16 hex of SHA-256 of the key) lets
// keys rotate: old backups name the key they need. Keys are never logged.

import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';

const MAGIC = Buffer.from('LKBACK01', 'ascii');
const KEY_ID_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const HEADER_BYTES = MAGIC.length + KEY_ID_BYTES + IV_BYTES;

export class BackupIntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupIntegrityError';
  }
}

export const keyIdOf = (key: Buffer): string => createHash('sha256').update(key).digest('hex').slice(0, KEY_ID_BYTES);

/** A Transform that writes the header, encrypts everything through it, and appends the tag. */
export function createEncryptStream(key: Buffer): Transform {
  if (key.length !== 32) throw new Error('backup key must be 32 bytes');
  const iv = randomBytes(IV_BYTES);
  const header = Buffer.concat([MAGIC, Buffer.from(keyIdOf(key), 'ascii'), iv]);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(header);
  let headerSent = false;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const out = cipher.update(chunk);
      if (!headerSent) {
        headerSent = true;
        done(null, Buffer.concat([header, out]));
      } else {
        done(null, out);
      }
    },
    flush(done) {
      const last = cipher.final();
      done(null, Buffer.concat([headerSent ? Buffer.alloc(0) : header, last, cipher.getAuthTag()]));
    },
  });
}

export interface BackupHeader {
  keyId: string;
  iv: Buffer;
  raw: Buffer;
}

async function readRange(file: string, position: number, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, position);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

export async function readBackupHeader(file: string): Promise<BackupHeader> {
  const raw = await readRange(file, 0, HEADER_BYTES);
  if (raw.length < HEADER_BYTES || !raw.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new BackupIntegrityError(`${file} is not a Lookout backup (bad header)`);
  }
  return {
    keyId: raw.subarray(MAGIC.length, MAGIC.length + KEY_ID_BYTES).toString('ascii'),
    iv: raw.subarray(MAGIC.length + KEY_ID_BYTES),
    raw,
  };
}

/**
 * The decrypted contents as a stream. The tag is read from the end first, so
 * the stream errors at its end if anything was changed. Callers must treat
 * the data as unverified until the stream ends without error.
 */
export async function openDecryptStream(file: string, keys: readonly Buffer[]): Promise<Readable> {
  const { size } = await stat(file);
  if (size < HEADER_BYTES + TAG_BYTES) throw new BackupIntegrityError(`${file} is truncated (${size} bytes)`);
  const header = await readBackupHeader(file);
  const key = keys.find((k) => keyIdOf(k) === header.keyId);
  if (!key) {
    throw new BackupIntegrityError(`backup was encrypted with key id ${header.keyId}, which is not configured (BACKUP_ENCRYPTION_KEY or BACKUP_OLD_KEYS)`);
  }
  const tag = await readRange(file, size - TAG_BYTES, TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, header.iv);
  decipher.setAAD(header.raw);
  decipher.setAuthTag(tag);
  const body = createReadStream(file, { start: HEADER_BYTES, end: size - TAG_BYTES - 1, highWaterMark: 1024 * 1024 });
  const checked = new Transform({
    transform(chunk: Buffer, _enc, done) {
      done(null, decipher.update(chunk));
    },
    flush(done) {
      try {
        done(null, decipher.final());
      } catch {
        done(new BackupIntegrityError('authentication failed: the backup file was modified, truncated or encrypted with another key'));
      }
    },
  });
  body.on('error', (err) => checked.destroy(err));
  return body.pipe(checked);
}
