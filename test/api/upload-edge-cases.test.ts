// Uploads at their edges, on the real API in-process. File names in any
// script come back exactly as sent, however the client spells them: raw
// UTF-8 (browsers, curl, fetch's FormData), the WHATWG %22/%0D/%0A escapes,
// backslash escapes, RFC 5987 filename* (lookout submit). And an upload cut
// off or stalled anywhere leaves nothing behind: no temp file, no open file
// handle, a settled request, an audit row saying it failed, no batch; the
// server then takes the next upload as usual. Raw sockets give exact control
// over the bytes and over when the client goes away.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFsBlobStore } from '../../src/blobs/fs-blob-store.js';
import { receiveUpload } from '../../src/api/receive-upload.js';
import { createApiKey, revokeKey } from '../../src/auth/api-keys.js';
import type { Services } from '../../src/runtime/services.js';
import { readPhoto } from '../helpers/photos.js';
import { authed, createTestEnv, fsBlobDir, submit, type TestEnv } from '../helpers/test-env.js';

const IDLE_MS = 3000;

let env: TestEnv;
let services: Services;
let url: string;
let port: number;
let key: string;
let png: Buffer;
let jpeg: Buffer;

beforeAll(async () => {
  env = await createTestEnv('upload_edges', { UPLOAD_IDLE_TIMEOUT_MS: String(IDLE_MS) });
  services = await env.open();
  const api = await env.api(services);
  url = api.url;
  port = api.port;
  key = await env.key(services, 'submitter');
  png = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#c33' } })
    .png()
    .toBuffer();
  jpeg = await sharp(await readPhoto('astronaut.png'))
    .resize(1100)
    .jpeg({ quality: 98 })
    .toBuffer();
});
afterAll(() => env.cleanup());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// ---- multipart bodies, byte for byte ----

const BOUNDARY = `edge-${randomBytes(8).toString('hex')}`;
const bytesOf = (s: string | Buffer) => (Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8'));

/** A part header for an `images` file; `params` is the raw rest of Content-Disposition (UTF-8 unless a Buffer). */
const fileHead = (params: string | Buffer, type = 'image/png') =>
  Buffer.concat([bytesOf(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="images"; `), bytesOf(params), bytesOf(`\r\nContent-Type: ${type}\r\n\r\n`)]);
const filePart = (params: string | Buffer, bytes: Buffer, type = 'image/png') => Buffer.concat([fileHead(params, type), bytes, bytesOf('\r\n')]);
const fieldPart = (name: string, value: string) => bytesOf(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
const CLOSING = bytesOf(`--${BOUNDARY}--\r\n`);

const requestHead = (contentLength: number, requestId: string, bearer = key) =>
  bytesOf(
    `POST /v1/batches HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${bearer}\r\n` +
      `Content-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${contentLength}\r\n` +
      `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n`,
  );

function connect(toPort = port): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: toPort }, () => resolve(socket));
    socket.once('error', reject);
  });
}

interface RawResponse {
  status: number;
  headers: string;
  body: Record<string, any>;
}

/** Everything the server sends until it closes the connection, parsed. */
function responseOf(socket: net.Socket): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('error', reject);
    socket.once('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      if (split < 0) return reject(new Error(`no HTTP response: ${JSON.stringify(text)}`));
      const headers = text.slice(0, split);
      const body = text.slice(split + 4);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1]), headers, body: body ? (JSON.parse(body) as Record<string, any>) : {} });
    });
  });
}

/** One whole request over a fresh socket; the answer once the server closes. */
async function sendRaw(body: Buffer, requestId = randomUUID()): Promise<RawResponse> {
  const socket = await connect();
  const answer = responseOf(socket);
  socket.write(Buffer.concat([requestHead(body.length, requestId), body]));
  return answer;
}

const filenamesOf = (res: { body: Record<string, any> }) => (res.body.images as Array<{ filename: string }>).map((i) => i.filename);

async function expectStoredNames(batchId: string, expected: string[]): Promise<void> {
  const results = await fetch(`${url}/v1/batches/${batchId}/results`, authed(key));
  expect(results.status).toBe(200);
  expect(filenamesOf({ body: (await results.json()) as Record<string, any> })).toEqual(expected);
  const rows = await env.sql<{ filename: string }>('SELECT filename FROM images WHERE batch_id = $1 ORDER BY position', [batchId]);
  expect(rows.map((r) => r.filename)).toEqual(expected);
}

describe('file names come back exactly as sent', () => {
  it("raw UTF-8 from fetch's FormData: é in NFC and NFD, CJK, emoji, right-to-left, quotes, a path", async () => {
    // [sent, stored]: FormData sends the name as UTF-8 with " as %22 (WHATWG).
    const cases: Array<[string, string]> = [
      ['caf\u00e9.png', 'caf\u00e9.png'],
      ['cafe\u0301.png', 'cafe\u0301.png'], // NFD stays NFD: never normalised
      ['猫の写真 2024.png', '猫の写真 2024.png'],
      ['😀 party 🎉.png', '😀 party 🎉.png'], // astral plane
      ['👩‍👩‍👧 family.png', '👩‍👩‍👧 family.png'], // a ZWJ sequence
      ['صورة العائلة.png', 'صورة العائلة.png'],
      ['תמונה.png', 'תמונה.png'],
      ['say "cheese".png', 'say "cheese".png'],
      ['100%25 "done".png', '100%25 "done".png'], // only %22, %0D and %0A are escapes
      ['holiday/2024/plage été.png', 'plage été.png'], // a path: its last part only
    ];
    const res = await submit(
      url,
      key,
      cases.map(([name]) => ({ name, bytes: png, type: 'image/png' })),
    );
    expect(res.status).toBe(202);
    const expected = cases.map(([, stored]) => stored);
    expect(filenamesOf(res)).toEqual(expected);
    await expectStoredNames(res.body.id as string, expected);
  });

  it('raw bytes on a socket: UTF-8, WHATWG escapes, backslash escapes, filename* (RFC 5987), a literal %25 kept', async () => {
    // [Content-Disposition parameters as sent, the name stored]
    const cases: Array<[string | Buffer, string]> = [
      ['filename="café.png"', 'café.png'], // raw UTF-8, as curl sends it
      ['filename="a%22quoted%22.png"', 'a"quoted".png'], // a browser's "
      ['filename="line%0D%0Abreak.png"', 'linebreak.png'], // CR LF decoded, then dropped like any control character
      ['filename="100%25.png"', '100%25.png'], // not general percent-decoding
      ['filename="50% off %2.png"', '50% off %2.png'],
      ['filename="back\\"slash.png"', 'back"slash.png'], // RFC 2616 quoted-pair
      ['filename="x.png"; filename*=UTF-8\'\'%E7%8C%AB%20%F0%9F%90%88.png', '猫 🐈.png'], // filename* wins
      ["filename*=utf-8''caf%C3%A9%20%22o%22.png", 'café "o".png'],
      // filename* is exact once decoded: a literal %22 or %0A in it stays text.
      ["filename*=UTF-8''100%2522.jpg", '100%22.jpg'],
      ['filename="fallback %22.png"; filename*=UTF-8\'\'literal%2522%250A%2525.png', 'literal%22%0A%25.png'],
      // A quoted filename that merely contains the text filename*= is plain: its escapes are decoded.
      ['filename="a%22;filename*=b.png"', 'a";filename*=b.png'],
      // A backslash is a Windows path separator in a plain name, a character in filename*.
      ['filename="C:\\\\Users\\\\me\\\\x.png"', 'x.png'],
      ["filename*=UTF-8''back%5Cslash.png", 'back\\slash.png'],
      ['filename="photos/../日本/写真.png"', '写真.png'],
      ['filename="\u202Egnp.exe"', '\u202Egnp.exe'], // bidi controls are text, kept
      [Buffer.concat([bytesOf('filename="'), Buffer.from('🐈‍⬛.png', 'utf8'), bytesOf('"')]), '🐈‍⬛.png'],
      // Over 255 UTF-16 units: cut before the emoji, never through it.
      [`filename="${'a'.repeat(254)}😀.png"`, 'a'.repeat(254)],
      [`filename="${'e\u0301'.repeat(200)}.png"`, 'e\u0301'.repeat(127)],
    ];
    const body = Buffer.concat([...cases.map(([params]) => filePart(params, png)), CLOSING]);
    const res = await sendRaw(body);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const expected = cases.map(([, stored]) => stored);
    expect(filenamesOf(res)).toEqual(expected);
    await expectStoredNames(res.body.id as string, expected);
  });

  it('filename* or not is told per part, however the body is cut into chunks', async () => {
    const parts: Array<[string, string]> = [
      ["filename*=UTF-8''one%2522.png", 'one%22.png'],
      ['filename="two%22.png"', 'two".png'],
      ['filename="x"; filename*=UTF-8\'\'three%250D.png', 'three%0D.png'],
      ['filename="four%0A.png"', 'four.png'],
    ];
    const body = Buffer.concat([fieldPart('minScore', '0.5'), ...parts.map(([params]) => filePart(params, png)), CLOSING]);
    // Sent in slices of a few bytes, so that delimiters and part headers are split across chunks.
    const socket = await connect();
    const answer = responseOf(socket);
    socket.setNoDelay(true);
    socket.write(requestHead(body.length, randomUUID()));
    for (let i = 0; i < body.length; i += 7) {
      socket.write(body.subarray(i, i + 7));
      if (i % 700 === 0) await sleep(1);
    }
    const res = await answer;
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(filenamesOf(res)).toEqual(parts.map(([, stored]) => stored));
  });

  it('field names and values are UTF-8 too', async () => {
    const unknownField = await sendRaw(Buffer.concat([fieldPart('größe', '1'), filePart('filename="a.png"', png), CLOSING]));
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.error.message).toMatch(/^unknown field "größe"/);
    const unknownModel = await sendRaw(Buffer.concat([fieldPart('model', 'modèle-😀'), filePart('filename="a.png"', png), CLOSING]));
    expect(unknownModel.status).toBe(400);
    expect(unknownModel.body.error).toEqual({ code: 'unknown_model', message: expect.stringMatching(/^unknown model "modèle-😀";/) });
  });
});

// ---- uploads cut off or stalled ----

const tmpDir = () => path.join(fsBlobDir(env.config), 'tmp');

async function partFiles(): Promise<string[]> {
  const names = await readdir(tmpDir()).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith('.part'));
}

/** What this process (the API runs in it) holds open under the blob store's temp folder. */
async function openTempFiles(): Promise<string[]> {
  const fds = await readdir('/proc/self/fd');
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return targets.filter((t) => t.startsWith(tmpDir()));
}

async function auditRow(requestId: string) {
  const rows = await env.sql<{ outcome: string; details: Record<string, any> }>(
    `SELECT outcome, details FROM audit_log WHERE action = 'http.request' AND details->>'requestId' = $1`,
    [requestId],
  );
  return rows;
}

const count = async (table: string) => (await env.sql<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]!.n;

/** After a failed upload: nothing left behind, a failure audited once, no rows, and the next upload goes through. */
async function expectCleanFailure(
  requestId: string,
  before: { batches: number; images: number },
  expectAudit: (row: { outcome: string; details: Record<string, any> }) => void,
  storedBlobs: string[] = [],
) {
  await until('the temp files to go', async () => (await partFiles()).length === 0 && (await openTempFiles()).length === 0);
  // Files the request stored whole before it failed are removed too.
  for (const blob of storedBlobs) await until(`${path.basename(blob)} removed`, async () => !(await exists(blob)));
  const [row, ...more] = await until('the audit row', async () => {
    const rows = await auditRow(requestId);
    return rows.length > 0 && rows;
  });
  expect(more).toEqual([]);
  expect(row!.outcome).toBe('error');
  expect(row!.details.route).toBe('POST /v1/batches');
  expectAudit(row!);
  expect(await count('batches')).toBe(before.batches);
  expect(await count('images')).toBe(before.images);
  const next = await submit(url, key, [{ name: 'after.jpg', bytes: jpeg, type: 'image/jpeg' }]);
  expect(next.status).toBe(202);
  expect(await partFiles()).toEqual([]);
}

/** Where the blob store keeps these bytes once whole. */
const blobPath = (bytes: Buffer) => {
  const sha = createHash('sha256').update(bytes).digest('hex');
  return path.join(fsBlobDir(env.config), sha.slice(0, 2), sha.slice(2, 4), sha);
};
/** The same image with a few random bytes after its end: a blob of its own. */
const fresh = (bytes: Buffer) => Buffer.concat([bytes, randomBytes(16)]);
const exists = (p: string) =>
  readdir(path.dirname(p)).then(
    (names) => names.includes(path.basename(p)),
    () => false,
  );

type Cut = 'destroy' | 'end';
const cutOff = (socket: net.Socket, how: Cut) => (how === 'destroy' ? socket.destroy() : socket.end());

describe('an upload cut off mid-way leaves nothing behind', () => {
  it('the JPEG is big enough to be cut in the middle', () => {
    expect(jpeg.length).toBeGreaterThan(300_000);
  });

  it.each<Cut>(['destroy', 'end'])('cut mid-first-file (socket %s)', async (how) => {
    const before = { batches: await count('batches'), images: await count('images') };
    const requestId = randomUUID();
    const body = Buffer.concat([fieldPart('minScore', '0.5'), filePart('filename="cut.jpg"', jpeg, 'image/jpeg'), CLOSING]);
    const socket = await connect();
    socket.on('error', () => undefined);
    socket.write(Buffer.concat([requestHead(body.length, requestId), body.subarray(0, Math.floor(body.length / 2))]));
    await until('the upload to reach the blob store', async () => (await partFiles()).length > 0);
    cutOff(socket, how);
    await expectCleanFailure(requestId, before, (row) => expect(row.details.aborted).toBe(true));
  });

  it('cut mid-second-file, after a complete first one', async () => {
    const before = { batches: await count('batches'), images: await count('images') };
    const requestId = randomUUID();
    const firstBytes = fresh(png);
    const first = filePart('filename="first.png"', firstBytes);
    const second = filePart('filename="second.jpg"', jpeg, 'image/jpeg');
    const body = Buffer.concat([first, second, CLOSING]);
    const socket = await connect();
    socket.on('error', () => undefined);
    socket.write(Buffer.concat([requestHead(body.length, requestId), first, second.subarray(0, second.length / 2)]));
    const firstBlob = blobPath(firstBytes);
    await until('the first file stored and the second one streaming', async () => (await exists(firstBlob)) && (await partFiles()).length > 0);
    cutOff(socket, 'destroy');
    await expectCleanFailure(requestId, before, (row) => expect(row.details.aborted).toBe(true), [firstBlob]);
  });

  it('cut in the headers of a part', async () => {
    const before = { batches: await count('batches'), images: await count('images') };
    const requestId = randomUUID();
    const whole = fresh(png);
    const body = Buffer.concat([filePart('filename="whole.png"', whole), filePart('filename="never.jpg"', jpeg, 'image/jpeg'), CLOSING]);
    const sent = Buffer.concat([filePart('filename="whole.png"', whole), bytesOf(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="images"; filena`)]);
    const socket = await connect();
    socket.on('error', () => undefined);
    socket.write(Buffer.concat([requestHead(body.length, requestId), sent]));
    await until('the first file stored', () => exists(blobPath(whole)));
    cutOff(socket, 'destroy');
    await expectCleanFailure(requestId, before, (row) => expect(row.details.aborted).toBe(true), [blobPath(whole)]);
  });

  it('Content-Length larger than what is sent, then closed', async () => {
    const before = { batches: await count('batches'), images: await count('images') };
    const requestId = randomUUID();
    const bytes = fresh(jpeg);
    const body = Buffer.concat([filePart('filename="whole.jpg"', bytes, 'image/jpeg'), CLOSING]);
    const socket = await connect();
    socket.on('error', () => undefined);
    socket.write(Buffer.concat([requestHead(body.length + 10_000, requestId), body]));
    await until('the file stored', () => exists(blobPath(bytes)));
    await sleep(200);
    cutOff(socket, 'end');
    await expectCleanFailure(requestId, before, (row) => expect(row.details.aborted).toBe(true), [blobPath(bytes)]);
  });
});

describe('a submit refused after its files were stored keeps none of them', () => {
  it.each([
    ['an unknown model', [fieldPart('model', 'no-such-model')], 400, 'unknown_model'],
    ['a refused webhook target', [fieldPart('webhookUrl', 'http://10.1.2.3/hook')], 400, 'webhook_target_refused'],
    ['an unknown field', [fieldPart('colour', 'blue')], 400, 'bad_request'],
    ['a bad minScore', [fieldPart('minScore', '7')], 400, 'bad_request'],
    ['a second file that is not an image', [filePart('filename="notes.png"', bytesOf('just some text, not a picture'))], 415, 'unsupported_format'],
  ] as const)('%s: refused, its fresh blobs removed, a blob an earlier batch uses kept', async (_name, after, status, code) => {
    const shared = fresh(png);
    const earlier = await submit(url, key, [{ name: 'earlier.png', bytes: shared, type: 'image/png' }]);
    expect(earlier.status).toBe(202);
    const before = { batches: await count('batches'), images: await count('images') };
    const own = fresh(jpeg);
    const res = await sendRaw(Buffer.concat([filePart('filename="own.jpg"', own, 'image/jpeg'), filePart('filename="shared.png"', shared), ...after, CLOSING]));
    expect({ status: res.status, code: res.body.error?.code }).toEqual({ status, code });
    await until("the refused upload's own blob removed", async () => !(await exists(blobPath(own))));
    expect(await exists(blobPath(shared))).toBe(true);
    expect(await count('batches')).toBe(before.batches);
    expect(await count('images')).toBe(before.images);
    expect(await partFiles()).toEqual([]);
  });
});

describe('an upload that stalls is ended after UPLOAD_IDLE_TIMEOUT_MS', () => {
  it.each([
    ['mid-file', (body: Buffer) => ({ length: body.length, sent: body.subarray(0, body.length / 2) })],
    ['Content-Length larger than the body', (body: Buffer) => ({ length: body.length + 10_000, sent: body })],
  ] as const)('%s: 408 upload_timeout, the connection closed', async (_name, shape) => {
    const before = { batches: await count('batches'), images: await count('images') };
    const requestId = randomUUID();
    const { length, sent } = shape(Buffer.concat([filePart('filename="slow.jpg"', jpeg, 'image/jpeg'), CLOSING]));
    const socket = await connect();
    const answer = responseOf(socket);
    const started = Date.now();
    socket.write(Buffer.concat([requestHead(length, requestId), sent])); // and then nothing, never closing
    const res = await answer;
    expect(res.status).toBe(408);
    expect(res.body).toEqual({ error: { code: 'upload_timeout', message: expect.stringContaining(`${IDLE_MS / 1000} s`) } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(IDLE_MS - 100);
    await expectCleanFailure(requestId, before, (row) => {
      expect(row.details.status).toBe(408);
      expect(row.details.aborted).toBeUndefined();
    });
  });
});

describe('an upload that keeps arriving is never cut for its length', () => {
  it("has no whole-request limit (Node's requestTimeout is off); idle sockets close a little after UPLOAD_IDLE_TIMEOUT_MS", async () => {
    const api = await env.api(services);
    expect(api.server.requestTimeout).toBe(0);
    expect(api.server.timeout).toBe(IDLE_MS + 5000);
    expect(api.server.headersTimeout).toBe(15_000); // Node's default: 60 s
  });

  it('a slow upload, never idle as long as UPLOAD_IDLE_TIMEOUT_MS but longer than it twice over, is accepted', async () => {
    const bytes = fresh(jpeg);
    const body = Buffer.concat([filePart('filename="slow but steady.jpg"', bytes, 'image/jpeg'), CLOSING]);
    const socket = await connect();
    const answer = responseOf(socket);
    const started = Date.now();
    socket.write(requestHead(body.length, randomUUID()));
    const slices = 8;
    for (let i = 0; i < slices; i++) {
      socket.write(body.subarray(Math.floor((i * body.length) / slices), Math.floor(((i + 1) * body.length) / slices)));
      if (i < slices - 1) await sleep(IDLE_MS / 3);
    }
    const res = await answer;
    expect(Date.now() - started).toBeGreaterThan(2 * IDLE_MS);
    expect(res.status).toBe(202);
    expect(filenamesOf(res)).toEqual(['slow but steady.jpg']);
  });
});

describe('receiveUpload settles when the client goes away', () => {
  it('rejects with upload_aborted, cut mid-file or in a part header; resolves the next upload', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lookout-receive-'));
    const blobs = createFsBlobStore(dir);
    const settled: Array<{ ok: boolean; code?: string; files?: number }> = [];
    const app = express();
    app.post('/up', (req, res) => {
      receiveUpload(req, blobs, { maxFileBytes: 10_000_000, maxPixels: 50_000_000, maxFiles: 10, maxRequestBytes: 100_000_000, idleTimeoutMs: 60_000 }).then(
        (upload) => {
          settled.push({ ok: true, files: upload.files.length });
          res.status(201).json({});
        },
        (err: { code?: string }) => {
          settled.push({ ok: false, code: err.code });
          if (!res.destroyed) res.status(400).json({});
        },
      );
    });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const appPort = (server.address() as net.AddressInfo).port;
    try {
      const body = Buffer.concat([filePart('filename="a.jpg"', jpeg, 'image/jpeg'), CLOSING]);
      const head = (length: number) =>
        bytesOf(
          `POST /up HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`,
        );
      const tmp = path.join(dir, 'tmp');
      const parts = async () => (await readdir(tmp).catch(() => [] as string[])).filter((n) => n.endsWith('.part'));

      const midFile = await connect(appPort);
      midFile.on('error', () => undefined);
      midFile.write(Buffer.concat([head(body.length), body.subarray(0, body.length / 2)]));
      await until('the temp file', async () => (await parts()).length > 0);
      midFile.destroy();
      await until('the upload to settle', () => Promise.resolve(settled.length === 1));
      expect(settled[0]).toEqual({ ok: false, code: 'upload_aborted' });
      await until('the temp file to go', async () => (await parts()).length === 0);

      const inHeader = await connect(appPort);
      inHeader.on('error', () => undefined);
      inHeader.write(Buffer.concat([head(body.length), bytesOf(`--${BOUNDARY}\r\nContent-Disposition: form-da`)]));
      await sleep(300);
      inHeader.end();
      await until('the upload to settle', () => Promise.resolve(settled.length === 2));
      expect(settled[1]).toEqual({ ok: false, code: 'upload_aborted' });

      const whole = await connect(appPort);
      const answer = responseOf(whole);
      whole.write(Buffer.concat([head(body.length), body]));
      expect((await answer).status).toBe(201);
      expect(settled[2]).toEqual({ ok: true, files: 1 });
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('minScore: one decimal grammar, blank means the model default', () => {
  const storedMinScore = async (batchId: string) =>
    (await env.sql<{ min_score: number }>('SELECT min_score FROM images WHERE batch_id = $1', [batchId])).map((r) => r.min_score);
  let modelDefault: number;
  beforeAll(async () => {
    const info = (await (await fetch(`${url}/v1/info`, authed(key))).json()) as { models: Array<{ name: string; defaultMinScore: number }> };
    modelDefault = info.models.find((m) => m.name === env.config.detect.model)!.defaultMinScore;
    expect(modelDefault).toBeGreaterThan(0);
  });

  it.each(['', ' ', '\t', '  \r\n  '])('a blank field (%j) gets the model default, not 0', async (value) => {
    const res = await sendRaw(Buffer.concat([fieldPart('minScore', value), filePart('filename="a.png"', png), CLOSING]));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(await storedMinScore(res.body.id as string)).toEqual([modelDefault]);
  });

  it.each([
    ['0.5', 0.5],
    ['.5', 0.5],
    [' 0.25 ', 0.25],
    ['0.0001', 0.0001],
    ['1', 1],
    ['0', 0],
  ])('%j is stored as %d', async (value, expected) => {
    const res = await sendRaw(Buffer.concat([fieldPart('minScore', value), filePart('filename="a.png"', png), CLOSING]));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const [stored] = await storedMinScore(res.body.id as string);
    expect(stored).toBeCloseTo(expected, 6); // a real column
  });

  it.each(['0x1', '0X1', '0b1', '0o1', '1e-1', '5E-1', 'Infinity', 'NaN', '+0.5', '-0', '0,5', '0_5', '１', '1.5'])(
    '%j is refused with 400, and the files it brought are not kept',
    async (value) => {
      const before = { batches: await count('batches'), images: await count('images') };
      const own = fresh(png);
      const res = await sendRaw(Buffer.concat([filePart('filename="own.png"', own), fieldPart('minScore', value), CLOSING]));
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual({ code: 'bad_request', message: expect.stringMatching(/^minScore: minScore must be a decimal number from 0 to 1/) });
      await until("the refused upload's blob removed", async () => !(await exists(blobPath(own))));
      expect(await count('batches')).toBe(before.batches);
      expect(await count('images')).toBe(before.images);
    },
  );
});

describe('a key revoked or expired while its upload streams creates nothing', () => {
  it.each([
    ['revoked', /^API key [0-9a-f]+ was revoked while the request was received; nothing was kept$/],
    ['expired', /^API key [0-9a-f]+ expired while the request was received; nothing was kept$/],
  ] as const)('%s mid-upload: 401, no batch, its blobs removed', async (how, message) => {
    const expiresAt = how === 'expired' ? new Date(Date.now() + 1500) : null;
    const own = await createApiKey(services.pool, { name: `mid-upload-${how}`, role: 'submitter', actor: 'test', expiresAt });
    const before = { batches: await count('batches'), images: await count('images') };
    const requestId = randomUUID();
    const first = fresh(png);
    const second = fresh(jpeg);
    const body = Buffer.concat([filePart('filename="first.png"', first), filePart('filename="second.jpg"', second, 'image/jpeg'), CLOSING]);
    const half = Math.floor(body.length / 2);
    const socket = await connect();
    const answer = responseOf(socket);
    socket.write(Buffer.concat([requestHead(body.length, requestId, own.token), body.subarray(0, half)]));
    await until('the first file stored', () => exists(blobPath(first)));
    if (how === 'revoked') expect(await revokeKey(services.pool, own.id, 'test')).toBe(true);
    else await sleep(Math.max(0, expiresAt!.getTime() - Date.now() + 100));
    socket.write(body.subarray(half));
    const res = await answer;
    expect(res.status).toBe(401);
    expect(res.body.error).toEqual({ code: 'unauthorized', message: expect.stringMatching(message) });
    await until('the blobs removed', async () => !(await exists(blobPath(first))) && !(await exists(blobPath(second))));
    expect(await count('batches')).toBe(before.batches);
    expect(await count('images')).toBe(before.images);
    const [row] = await until('the audit row', async () => {
      const rows = await auditRow(requestId);
      return rows.length > 0 && rows;
    });
    expect(row).toMatchObject({ outcome: 'denied' });
  });
});

describe('parts beyond the form limits are refused, never dropped', () => {
  const rawPart = (headers: string, value: string) => bytesOf(`--${BOUNDARY}\r\n${headers}\r\n\r\n${value}\r\n`);
  it.each([
    [
      'a fourth field (model, minScore, webhookUrl are the only ones)',
      [fieldPart('model', 'blazeface-back'), fieldPart('minScore', '0.5'), fieldPart('webhookUrl', ''), fieldPart('model', 'blazeface-front')],
      413,
      'too_many_fields',
    ],
    ['a field sent twice', [fieldPart('minScore', '0.5'), fieldPart('minScore', '0.9')], 400, 'duplicate_field'],
    ['a part without Content-Disposition', [rawPart('Content-Type: text/plain', 'hello')], 400, 'unnamed_part'],
    ['a part that is Content-Disposition: attachment', [rawPart('Content-Disposition: attachment; filename="x.png"', 'hello')], 400, 'unnamed_part'],
    ['a form-data part without a name', [rawPart('Content-Disposition: form-data', '0.5')], 400, 'unnamed_part'],
    [
      'a form-data file part without a name',
      [rawPart('Content-Disposition: form-data; filename="y.png"\r\nContent-Type: image/png', 'x')],
      400,
      'unnamed_part',
    ],
  ] as const)('%s: refused with its code, its blobs removed', async (_what, extra, status, code) => {
    const before = { batches: await count('batches'), images: await count('images') };
    const own = fresh(png);
    const res = await sendRaw(Buffer.concat([filePart('filename="own.png"', own), ...extra, CLOSING]));
    expect({ status: res.status, code: res.body.error?.code }).toEqual({ status, code });
    await until("the refused upload's blob removed", async () => !(await exists(blobPath(own))));
    expect(await count('batches')).toBe(before.batches);
    expect(await count('images')).toBe(before.images);
  });

  it('one image more than UPLOAD_MAX_FILES: 413 too_many_files, every blob removed', async () => {
    const small = await createTestEnv('upload_files_limit', { UPLOAD_MAX_FILES: '2' });
    try {
      const smallServices = await small.open();
      const api = await small.api(smallServices);
      const smallKey = await small.key(smallServices, 'submitter');
      const bytes = [fresh(png), fresh(png), fresh(png)];
      const res = await submit(
        api.url,
        smallKey,
        bytes.map((b, i) => ({ name: `${i}.png`, bytes: b, type: 'image/png' })),
      );
      expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 413, code: 'too_many_files' });
      const inSmall = (b: Buffer) => {
        const sha = createHash('sha256').update(b).digest('hex');
        return path.join(fsBlobDir(small.config), sha.slice(0, 2), sha.slice(2, 4), sha);
      };
      for (const b of bytes) await until('blob removed', async () => !(await exists(inSmall(b))));
      const exact = await submit(
        api.url,
        smallKey,
        bytes.slice(0, 2).map((b, i) => ({ name: `${i}.png`, bytes: b, type: 'image/png' })),
        { minScore: '0.5', model: small.config.detect.model, webhookUrl: '' },
      );
      expect(exact.status, JSON.stringify(exact.body)).toBe(202); // exactly at every limit: accepted
    } finally {
      await small.cleanup();
    }
  });
});

describe('UPLOADS_IN_FLIGHT_MAX: uploads past the cap are refused at once', () => {
  it('2 slow uploads held open: the third gets 503 too_many_uploads with Retry-After, nothing stored; accepted once one ends', async () => {
    const capped = await createTestEnv('upload_slots', { UPLOADS_IN_FLIGHT_MAX: '2', UPLOAD_IDLE_TIMEOUT_MS: '30000' });
    try {
      const cappedServices = await capped.open();
      const api = await capped.api(cappedServices);
      const cappedKey = await capped.key(cappedServices, 'submitter');
      const held = [fresh(jpeg), fresh(jpeg)];
      const bodies = held.map((b, i) => Buffer.concat([filePart(`filename="held-${i}.jpg"`, b, 'image/jpeg'), CLOSING]));
      const sockets = await Promise.all(bodies.map(() => connect(api.port)));
      const answers = sockets.map((s) => {
        s.on('error', () => undefined);
        const answer = responseOf(s);
        answer.catch(() => undefined); // the one cut off below has none
        return answer;
      });
      bodies.forEach((body, i) => sockets[i]!.write(Buffer.concat([requestHead(body.length, randomUUID(), cappedKey), body.subarray(0, body.length / 2)])));
      const cappedTmp = path.join(fsBlobDir(capped.config), 'tmp');
      await until('both uploads streaming', async () => (await readdir(cappedTmp).catch(() => [] as string[])).filter((n) => n.endsWith('.part')).length === 2);

      const third = fresh(png);
      const started = Date.now();
      const refused = await submit(api.url, cappedKey, [{ name: 'third.png', bytes: third, type: 'image/png' }]);
      expect(Date.now() - started).toBeLessThan(2000); // at once, not after an upload ends
      expect(refused.status).toBe(503);
      expect(refused.body.error).toEqual({ code: 'too_many_uploads', message: expect.stringMatching(/^2 uploads are already being received/) });
      const raw = await fetch(`${api.url}/v1/batches`, {
        method: 'POST',
        headers: { authorization: `Bearer ${cappedKey}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
        body: Buffer.concat([filePart('filename="t.png"', third), CLOSING]),
      });
      expect(raw.status).toBe(503);
      expect(raw.headers.get('retry-after')).toBe('5');
      const sha = createHash('sha256').update(third).digest('hex');
      expect(await exists(path.join(fsBlobDir(capped.config), sha.slice(0, 2), sha.slice(2, 4), sha))).toBe(false);

      // One held upload finishes: its slot is free again.
      sockets[0]!.write(bodies[0]!.subarray(bodies[0]!.length / 2));
      expect((await answers[0]!).status).toBe(202);
      const next = await submit(api.url, cappedKey, [{ name: 'third.png', bytes: third, type: 'image/png' }]);
      expect(next.status, JSON.stringify(next.body)).toBe(202);
      // The other one is cut off: its slot comes back too.
      sockets[1]!.destroy();
      await until(
        'the cut-off slot back',
        async () => (await submit(api.url, cappedKey, [{ name: 'a.png', bytes: fresh(png), type: 'image/png' }])).status === 202 || undefined,
      );
    } finally {
      await capped.cleanup();
    }
  });
});
