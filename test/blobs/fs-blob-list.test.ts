// The filesystem store's listing and temp sweep, on a real directory: list()
// yields exactly the blobs put stored (key, size, last write), and nothing
// else in the directory; sweepTemporary removes only temp files older than
// its cut-off, and with dryRun only counts them.
import { randomUUID } from 'node:crypto';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFsBlobStore } from '../../src/blobs/fs-blob-store.js';
import type { BlobStore } from '../../src/blobs/blob-store.js';

let dir: string;
let store: BlobStore;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lookout-fs-list-'));
  store = createFsBlobStore(dir);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const listAll = async (s: BlobStore) => {
  const out = [];
  for await (const b of s.list()) out.push(b);
  return out.sort((a, b) => a.key.localeCompare(b.key));
};

describe('fs blob store list()', () => {
  it('is empty for a directory that does not exist yet', async () => {
    expect(await listAll(createFsBlobStore(path.join(dir, 'not-yet')))).toEqual([]);
  });

  it('yields every stored blob with its size and last write, and nothing else', async () => {
    const before = Date.now() - 1000;
    const contents = [randomBytes(10), randomBytes(70_000), Buffer.alloc(0)];
    const stored = await Promise.all(contents.map((b) => store.put(Readable.from([b]), { maxBytes: 1e6 })));
    // Not blobs: a stray file at the top, a file named like a key in the wrong folder, a temp file, odd folders.
    await writeFile(path.join(dir, 'README'), 'x');
    const wrong = createHash('sha256').update('elsewhere').digest('hex');
    await mkdir(path.join(dir, 'ff', 'ff'), { recursive: true });
    await writeFile(path.join(dir, 'ff', 'ff', wrong), 'x');
    await mkdir(path.join(dir, 'tmp'), { recursive: true });
    await writeFile(path.join(dir, 'tmp', 'x.part'), 'partial');
    await mkdir(path.join(dir, 'zz', '00'), { recursive: true });

    const listed = await listAll(store);
    expect(listed.map((b) => [b.key, b.bytes])).toEqual(stored.map((s) => [s.key, s.bytes]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
    for (const b of listed) {
      expect(b.modifiedAt).toBeInstanceOf(Date);
      expect(b.modifiedAt.getTime()).toBeGreaterThanOrEqual(before);
    }
    // The listing's keys are the store's: delete takes them.
    await store.delete(listed[0]!.key);
    expect(await listAll(store)).toHaveLength(2);
  });
});

describe('fs blob store sweepTemporary()', () => {
  it('removes temp files older than the cut-off, keeps newer ones; dryRun only counts', async () => {
    const tmp = path.join(dir, 'tmp');
    await mkdir(tmp, { recursive: true });
    const old = path.join(tmp, `${randomUUID()}.part`);
    const fresh = path.join(tmp, `${randomUUID()}.part`);
    // Not a name put() gives: not Lookout's, never swept.
    const foreign = path.join(tmp, 'crashed-notes.txt');
    await writeFile(foreign, 'mine');
    await utimes(foreign, new Date(Date.now() - 2 * 3600_000), new Date(Date.now() - 2 * 3600_000));
    await writeFile(old, randomBytes(123));
    await writeFile(fresh, randomBytes(45));
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(old, twoHoursAgo, twoHoursAgo);
    const oneHourAgo = new Date(Date.now() - 3600_000);
    // The earlier test's x.part is fresh too.
    expect(await store.sweepTemporary(oneHourAgo, { dryRun: true })).toEqual({ removed: 1, bytes: 123 });
    expect(existsSync(old)).toBe(true);
    expect(await store.sweepTemporary(oneHourAgo, { dryRun: false })).toEqual({ removed: 1, bytes: 123 });
    expect(existsSync(old)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    expect(existsSync(foreign)).toBe(true);
    expect(await store.sweepTemporary(oneHourAgo, { dryRun: false })).toEqual({ removed: 0, bytes: 0 });
  });
});
