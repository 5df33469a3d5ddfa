// Both blob stores against the same contract (put, get, has, delete, list,
// sweepTemporary; too large, refused, aborted and cut-off uploads leave
// nothing behind), the S3 one on a real S3 protocol server (s3rver on
// 127.0.0.1), its bucket looked into with ListObjectsV2.
import { randomUUID } from 'node:crypto';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobNotFoundError, BlobTooLargeError, FRESH_BLOB_MS, type BlobStore, type ListedBlob } from '../../src/blobs/blob-store.js';
import { createFsBlobStore } from '../../src/blobs/fs-blob-store.js';
import { createS3BlobStore, PART_BYTES } from '../../src/blobs/s3-blob-store.js';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.js';

const BUCKET = 'lookout-blob-store-test';
const MiB = 1024 * 1024;

let s3: TestS3Server;
let fsRoot: string;
/** Commands the S3 store's client sent, by name (a middleware on the real client: nothing is replaced). */
const sent: string[] = [];

beforeAll(async () => {
  s3 = await startS3Server([BUCKET]);
  s3.client.middlewareStack.add(
    (next, context) => (args) => {
      sent.push(context.commandName ?? '?');
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
  fsRoot = await mkdtemp(path.join(os.tmpdir(), 'lookout-fs-store-'));
});
afterAll(async () => {
  await s3?.close();
  await rm(fsRoot, { recursive: true, force: true });
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** A stream of `bytes` in chunks of `chunk` bytes. */
const streamOf = (bytes: Buffer, chunk = 64 * 1024) =>
  Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
    })(),
  );
/** `bytes` bytes, then the error: an upload cut off. */
const cutOff = (bytes: number, error = new Error('connection reset by peer')) =>
  Readable.from(
    (function* () {
      for (let sent = 0; sent < bytes; sent += 64 * 1024) yield randomBytes(64 * 1024);
      throw error;
    })(),
  );
/** Bytes that never end: aborted by the caller. */
const endless = () =>
  Readable.from(
    (async function* () {
      for (;;) {
        yield randomBytes(64 * 1024);
        await new Promise((r) => setTimeout(r, 1));
      }
    })(),
  );
const all = async (blobs: AsyncIterable<ListedBlob>) => {
  const out: ListedBlob[] = [];
  for await (const b of blobs) out.push(b);
  return out.sort((a, b) => a.key.localeCompare(b.key));
};
const pngHead = Buffer.from('89504e470d0a1a0a', 'hex');

/** Every file under a directory, relative, sorted. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

interface Driver {
  name: string;
  store(): BlobStore;
  /** Everything the store holds, as names relative to its root (fs) or keys under its prefix (s3): temporary ones too. */
  contents(): Promise<string[]>;
  /** Leaves a temporary leftover (as a killed upload would), last written `ageMs` ago. */
  leaveTemporary(name: string, ageMs: number): Promise<void>;
  /** Puts something that is not a blob where the store keeps its blobs. */
  putForeign(relative: string): Promise<void>;
}

let prefixes = 0;
const drivers: Driver[] = [
  (() => {
    let root = '';
    return {
      name: 'fs',
      store() {
        root = path.join(fsRoot, `store-${++prefixes}`);
        return createFsBlobStore(root);
      },
      contents: () => filesUnder(root),
      async leaveTemporary(name, ageMs) {
        await mkdir(path.join(root, 'tmp'), { recursive: true });
        const file = path.join(root, 'tmp', `${name}.part`);
        await writeFile(file, randomBytes(100));
        const at = new Date(Date.now() - ageMs);
        await utimes(file, at, at);
      },
      async putForeign(relative) {
        await mkdir(path.dirname(path.join(root, relative)), { recursive: true });
        await writeFile(path.join(root, relative), 'not a blob');
      },
    };
  })(),
  (() => {
    let prefix = '';
    return {
      name: 's3',
      store() {
        prefix = `store-${++prefixes}/`;
        return createS3BlobStore(s3.client, { bucket: BUCKET, prefix });
      },
      contents: async () => (await s3.keys(BUCKET, prefix)).map((k) => k.slice(prefix.length)),
      async leaveTemporary(name) {
        // S3 sets LastModified itself: "old" is judged against a cut-off in the future instead.
        await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}tmp/${name}`, Body: randomBytes(100) }));
      },
      async putForeign(relative) {
        await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}${relative}`, Body: 'not a blob' }));
      },
    };
  })(),
];

describe.each(drivers)('the $name blob store', (driver) => {
  let store: BlobStore;
  beforeAll(() => {
    store = driver.store();
  });

  it('stores bytes under their sha256; get, has, list and delete by that key', async () => {
    const bytes = Buffer.concat([pngHead, randomBytes(200_000)]);
    const before = Date.now();
    const blob = await store.put(streamOf(bytes), { maxBytes: 1 * MiB });
    expect(blob).toEqual({ key: sha(bytes), sha256: sha(bytes), bytes: bytes.length });
    expect((await store.get(blob.key)).equals(bytes)).toBe(true);
    expect(await store.has(blob.key)).toBe(true);
    const listed = await all(store.list());
    expect(listed).toEqual([{ key: blob.key, bytes: bytes.length, modifiedAt: expect.any(Date) }]);
    // Second precision in S3 (and a store's clock of its own): within a few seconds of the put.
    expect(Math.abs(listed[0]!.modifiedAt.getTime() - before)).toBeLessThan(5000);
    expect(await driver.contents()).toEqual([`${blob.key.slice(0, 2)}/${blob.key.slice(2, 4)}/${blob.key}`]);

    await store.delete(blob.key);
    expect(await store.has(blob.key)).toBe(false);
    await expect(store.get(blob.key)).rejects.toBeInstanceOf(BlobNotFoundError);
    await store.delete(blob.key); // nothing there: not an error
    expect(await all(store.list())).toEqual([]);
    expect(await driver.contents()).toEqual([]);
  });

  it('keeps identical bytes once', async () => {
    const bytes = randomBytes(50_000);
    const a = await store.put(streamOf(bytes, 1000), { maxBytes: MiB });
    const b = await store.put(streamOf(bytes, 7777), { maxBytes: MiB });
    expect(b.key).toBe(a.key);
    expect((await all(store.list())).map((x) => x.key)).toEqual([a.key]);
    expect(await driver.contents()).toHaveLength(1);
    await store.delete(a.key);
  });

  it('answers a key that is not a sha256 as not found', async () => {
    await expect(store.get('../../etc/passwd')).rejects.toBeInstanceOf(BlobNotFoundError);
    await expect(store.get('a'.repeat(64))).rejects.toBeInstanceOf(BlobNotFoundError);
    expect(await store.has('not-a-key')).toBe(false);
  });

  describe('leaves nothing behind', () => {
    it('when the upload is too large (here past one S3 part)', async () => {
      await expect(store.put(streamOf(randomBytes(7 * MiB)), { maxBytes: 6 * MiB })).rejects.toBeInstanceOf(BlobTooLargeError);
      expect(await driver.contents()).toEqual([]);
    });

    it('when checkHead refuses the first bytes', async () => {
      const refused = new Error('not an image');
      const checkHead = (head: Buffer) => {
        if (!head.subarray(0, 8).equals(pngHead)) throw refused;
      };
      await expect(store.put(streamOf(randomBytes(300_000)), { maxBytes: MiB, checkHead })).rejects.toBe(refused);
      expect(await driver.contents()).toEqual([]);
      // A short file is checked at its end.
      await expect(store.put(streamOf(Buffer.from('hi')), { maxBytes: MiB, checkHead })).rejects.toBe(refused);
      expect(await driver.contents()).toEqual([]);
    });

    it('when inspectHead refuses the first 64 KiB', async () => {
      const refused = new Error('too many pixels');
      const inspectHead = async (head: Buffer) => {
        expect(head.length).toBe(64 * 1024);
        await new Promise((r) => setTimeout(r, 5));
        throw refused;
      };
      await expect(store.put(streamOf(randomBytes(500_000), 4096), { maxBytes: MiB, inspectHead })).rejects.toBe(refused);
      expect(await driver.contents()).toEqual([]);
    });

    it('when the caller aborts mid-upload, past the first part', async () => {
      const abort = new AbortController();
      sent.length = 0;
      const put = store.put(endless(), { maxBytes: 100 * MiB, signal: abort.signal });
      await new Promise((r) => setTimeout(r, 1500)); // several MiB: S3's first part is up or going up
      abort.abort();
      await expect(put).rejects.toMatchObject({ name: 'AbortError' });
      expect(await driver.contents()).toEqual([]);
      if (driver.name === 's3') expect(sent).toEqual(expect.arrayContaining(['UploadPartCommand', 'AbortMultipartUploadCommand']));
    });

    it('when the source is cut off, before and after the first part', async () => {
      for (const bytes of [100_000, PART_BYTES + 2 * MiB]) {
        const cut = new Error(`cut off after ${bytes}`);
        await expect(store.put(cutOff(bytes, cut), { maxBytes: 100 * MiB })).rejects.toBe(cut);
        expect(await driver.contents(), `cut off after ${bytes}`).toEqual([]);
      }
    });
  });

  it(`streams more than one S3 part (${(PART_BYTES * 2.4) / MiB} MiB) and stores it whole`, async () => {
    const bytes = randomBytes(Math.round(PART_BYTES * 2.4));
    const blob = await store.put(streamOf(bytes), { maxBytes: 50 * MiB });
    expect(blob).toMatchObject({ key: sha(bytes), bytes: bytes.length });
    expect((await store.get(blob.key)).equals(bytes)).toBe(true);
    expect(await driver.contents()).toEqual([`${blob.key.slice(0, 2)}/${blob.key.slice(2, 4)}/${blob.key}`]);
    await store.delete(blob.key);
  });

  it('lists only content-addressed blobs; sweepTemporary removes only old temporary leftovers', async () => {
    const blob = await store.put(streamOf(randomBytes(1000)), { maxBytes: MiB });
    await driver.putForeign('ab/cd/not-a-sha256');
    await driver.putForeign(`${'00'}/${'11'}/${'ff'.repeat(32)}`); // a sha256 in the wrong directory
    // What put() names its temporary files (a uuid), and a user's file under tmp/ that is not Lookout's.
    const [oldName, newName] = [randomUUID(), randomUUID()];
    await driver.leaveTemporary(oldName, 2 * 3600_000);
    await driver.leaveTemporary(newName, 0);
    await driver.leaveTemporary('quarterly-report', 2 * 3600_000);
    expect((await all(store.list())).map((b) => b.key)).toEqual([blob.key]);

    // fs: the file from two hours ago goes, the fresh one stays. s3 sets LastModified itself, so
    // both are fresh: a cut-off an hour ahead takes both, one an hour back neither.
    if (driver.name === 'fs') {
      const swept = await store.sweepTemporary(new Date(Date.now() - 3600_000));
      expect(swept).toEqual({ removed: 1, bytes: 100 });
      expect((await driver.contents()).filter((f) => f.startsWith('tmp')).sort()).toEqual(
        [path.join('tmp', `${newName}.part`), path.join('tmp', 'quarterly-report.part')].sort(),
      );
    } else {
      expect(await store.sweepTemporary(new Date(Date.now() - 3600_000))).toEqual({ removed: 0, bytes: 0 });
      expect(await store.sweepTemporary(new Date(Date.now() + 3600_000))).toEqual({ removed: 2, bytes: 200 });
      expect((await driver.contents()).filter((f) => f.startsWith('tmp'))).toEqual(['tmp/quarterly-report']);
    }
    expect(await store.has(blob.key)).toBe(true); // blobs are never temporary leftovers
  });

  it('check() answers', async () => {
    await expect(store.check()).resolves.toBeUndefined();
  });
});

describe('the S3 blob store', () => {
  it('aborts the multipart upload of a cut-off upload, and copies nothing', async () => {
    const store = createS3BlobStore(s3.client, { bucket: BUCKET, prefix: 'abort/' });
    sent.length = 0;
    const cut = new Error('cut off');
    await expect(store.put(cutOff(PART_BYTES + MiB, cut), { maxBytes: 100 * MiB })).rejects.toBe(cut);
    expect(sent).toContain('CreateMultipartUploadCommand');
    expect(sent).toContain('UploadPartCommand');
    expect(sent).toContain('AbortMultipartUploadCommand');
    expect(sent).not.toContain('CompleteMultipartUploadCommand');
    expect(sent).not.toContain('CopyObjectCommand');
    expect(await s3.keys(BUCKET, 'abort/')).toEqual([]);
  });

  it('puts a body of one part straight to its address: one request, nothing temporary', async () => {
    const store = createS3BlobStore(s3.client, { bucket: BUCKET, prefix: 'small/' });
    const bytes = randomBytes(PART_BYTES);
    sent.length = 0;
    const blob = await store.put(streamOf(bytes), { maxBytes: 50 * MiB });
    expect(sent).toEqual(['PutObjectCommand']);
    expect(await s3.keys(BUCKET, 'small/')).toEqual([`small/${blob.key.slice(0, 2)}/${blob.key.slice(2, 4)}/${blob.key}`]);
  });

  it('copies a larger blob found already stored only when it is older than FRESH_BLOB_MS, renewing it for the orphan sweep', async () => {
    let now = new Date();
    const store = createS3BlobStore(s3.client, { bucket: BUCKET, prefix: 'fresh/', now: () => now });
    const bytes = randomBytes(PART_BYTES + 1);
    const copies = async () => {
      sent.length = 0;
      await store.put(streamOf(bytes), { maxBytes: 50 * MiB });
      expect(sent).toContain('CompleteMultipartUploadCommand');
      return sent.filter((c) => c === 'CopyObjectCommand').length;
    };
    expect(await copies()).toBe(1); // new: copied to its address
    expect(await copies()).toBe(0); // there, recent: left as it is
    now = new Date(Date.now() + FRESH_BLOB_MS + 60_000);
    expect(await copies()).toBe(1); // there, but older than FRESH_BLOB_MS as of now: written again
    expect(await s3.keys(BUCKET, 'fresh/')).toEqual([`fresh/${sha(bytes).slice(0, 2)}/${sha(bytes).slice(2, 4)}/${sha(bytes)}`]);
  });

  it('keeps each prefix to itself', async () => {
    const a = createS3BlobStore(s3.client, { bucket: BUCKET, prefix: 'one/' });
    const b = createS3BlobStore(s3.client, { bucket: BUCKET, prefix: 'one/two/' });
    const blob = await a.put(streamOf(randomBytes(10)), { maxBytes: MiB });
    expect(await b.has(blob.key)).toBe(false);
    expect(await all(b.list())).toEqual([]);
    expect((await all(a.list())).map((x) => x.key)).toEqual([blob.key]);
  });

  it('lists past one page of ListObjectsV2 (1000 keys)', { timeout: 120_000 }, async () => {
    const store = createS3BlobStore(s3.client, { bucket: BUCKET, prefix: 'many/' });
    // Written straight to their addresses (one request each, not put()'s four).
    const keys = Array.from({ length: 1010 }, (_, i) => sha(Buffer.from(`blob ${i}`)));
    for (let i = 0; i < keys.length; i += 20) {
      await Promise.all(
        keys.slice(i, i + 20).map((k) => s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `many/${k.slice(0, 2)}/${k.slice(2, 4)}/${k}`, Body: k }))),
      );
    }
    const listed = await all(store.list());
    expect(listed.map((b) => b.key)).toEqual([...keys].sort());
    expect(listed.every((b) => b.bytes === 64)).toBe(true);
  });

  it('says why a bucket does not answer', async () => {
    const store = createS3BlobStore(s3.client, { bucket: 'no-such-bucket-here', prefix: '' });
    await expect(store.check()).rejects.toThrow(/^bucket no-such-bucket-here does not answer HeadBucket: no such bucket \(.*HTTP 404\)$/);
  });
});
