// `lookout prune --older-than 0` on both blob stores, end to end: real photos
// through the API and a real worker, then the CLI as a real process, once
// with BLOB_STORE=fs and once with BLOB_STORE=s3 on s3rver (127.0.0.1). What
// is in the store is read behind Lookout's back: the files under BLOB_DIR,
// every key of the bucket (ListObjectsV2). Every blob of the pruned batches
// goes; a blob shared with a kept batch stays; the dry run removes nothing;
// objects of the user's bucket (where images submitted by reference live)
// are never touched; neither is anything else sharing the directory or the
// bucket outside the store's layout.
//
// The orphan sweep takes only what was written more than an hour ago. On
// the filesystem a file is aged with utimes; S3 sets LastModified itself, so
// there prune's clock is moved instead (prune() takes `now`): two hours on,
// the orphans and temp leftovers written just now count as old, while the
// CLI's run on the real clock keeps them.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobPath } from '../../src/blobs/blob-store.js';
import type { Config } from '../../src/config/config.js';
import { prune } from '../../src/retention/prune.js';
import type { Services } from '../../src/runtime/services.js';
import { readPhoto } from '../helpers/photos.js';
import { runCli } from '../helpers/run-cli.js';
import { startS3Server, type TestS3Server } from '../helpers/s3-server.js';
import { createTestEnv, fsBlobDir, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

const BUCKET = 'lookout-prune';
const PREFIX = 'lookout/';
/** The user's bucket: where images submitted by reference (s3://…) stay, the user's objects. */
const USER_BUCKET = 'users-photos';
const HOUR = 3600_000;

let s3: TestS3Server;

beforeAll(async () => {
  s3 = await startS3Server([BUCKET, USER_BUCKET]);
});
afterAll(() => s3?.close());

/** One blob store, as this test sets it up and looks into it. */
interface StoreKit {
  name: 'fs' | 's3';
  /** createTestEnv's extra variables. */
  env(): Record<string, string>;
  /** Everything in the store's space, read behind Lookout's back, sorted: files under BLOB_DIR (relative paths), or every key of the bucket. */
  contents(config: Config): Promise<string[]>;
  /** Where the blob `key` lies among contents(). */
  blobEntry(key: string): string;
  /** Where an interrupted upload leaves its temporary file or object, among contents(). */
  tempEntry(): string;
  /** Writes `bytes` at `entry`, behind Lookout's back. */
  write(config: Config, entry: string, bytes: Buffer): Promise<void>;
  /** Sets an entry's last write `ageMs` back; only the filesystem can (S3's LastModified is the server's). */
  age?: (config: Config, entry: string, ageMs: number) => Promise<void>;
}

const fsKit: StoreKit = {
  name: 'fs',
  env: () => ({}),
  async contents(config) {
    const root = fsBlobDir(config);
    const entries = await readdir(root, { recursive: true, withFileTypes: true });
    return entries
      .filter((e) => e.isFile())
      .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
      .sort();
  },
  blobEntry: (key) => blobPath(key),
  tempEntry: () => `tmp/${randomUUID()}.part`,
  async write(config, entry, bytes) {
    const file = path.join(fsBlobDir(config), entry);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, bytes);
  },
  async age(config, entry, ageMs) {
    const at = new Date(Date.now() - ageMs);
    await utimes(path.join(fsBlobDir(config), entry), at, at);
  },
};

const s3Kit: StoreKit = {
  name: 's3',
  env: () => s3.env(BUCKET, PREFIX),
  contents: () => s3.keys(BUCKET),
  blobEntry: (key) => `${PREFIX}${blobPath(key)}`,
  tempEntry: () => `${PREFIX}tmp/${randomUUID()}`,
  async write(_config, entry, bytes) {
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: entry, Body: bytes }));
  },
};

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const photo = async (name: string) => {
  const bytes = await readPhoto(name);
  return { name, bytes, key: sha(bytes), size: bytes.length };
};
const sorted = (entries: string[]) => [...entries].sort();

for (const kit of [fsKit, s3Kit])
  describe(`lookout prune --older-than 0 on the ${kit.name} blob store`, () => {
    let env: TestEnv;
    let services: Services;
    let url: string;
    let key: string;
    let a: string;
    let a2: string;
    let c: string;
    let expected: { batches: number; images: number; blobs: number; bytes: number };
    /** Entries of the store: the pruned batches' blobs (and, on fs, an aged orphan and temp leftover). */
    let gone: string[];
    /** The blobs the kept, unfinished batch uses. */
    let keptBlobs: string[];
    /** Written just now: an orphan blob and a temp leftover, kept by a sweep on the real clock. */
    let fresh: { orphan: { entry: string; size: number }; temp: { entry: string; size: number } };
    /** Something else in the directory or bucket, outside the store's layout. */
    const foreign = 'notes/readme.txt';
    let userObjects: string[];

    const finishedBatch = async (names: string[]) => {
      const files = await Promise.all(names.map(async (name) => ({ name, bytes: await readPhoto(name) })));
      const { status, body } = await submit(url, key, files);
      expect(status, JSON.stringify(body)).toBe(202);
      expect((await waitForBatch(url, key, body.id)).status).toBe('completed');
      return body.id as string;
    };
    /** A batch left queued: its images wait on the paused detect queue. */
    const unfinishedBatch = async (names: string[]) => {
      const files = await Promise.all(names.map(async (name) => ({ name, bytes: await readPhoto(name) })));
      const { status, body } = await submit(url, key, files);
      expect(status, JSON.stringify(body)).toBe(202);
      return body.id as string;
    };
    const written = async (entry: string, size: number, ageMs = 0) => {
      await kit.write(env.config, entry, randomBytes(size));
      if (ageMs > 0) await kit.age!(env.config, entry, ageMs);
      return { entry, size };
    };
    /** An orphan: a blob at its content address that no image row references. */
    const orphan = async (ageMs = 0) => {
      const bytes = randomBytes(1000 + Math.floor(Math.random() * 1000));
      const entry = kit.blobEntry(sha(bytes));
      await kit.write(env.config, entry, bytes);
      if (ageMs > 0) await kit.age!(env.config, entry, ageMs);
      return { entry, size: bytes.length };
    };
    const count = async (sql: string, params: unknown[] = []) => (await env.sql<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params))[0]!.n;
    const pruneAudits = () =>
      env.sql<{ actor: string; outcome: string; details: Record<string, any> }>(
        `SELECT actor, outcome, details FROM audit_log WHERE action = 'retention.prune' ORDER BY id`,
      );
    const detectQueue = () => services.queues.get('detect')!;

    beforeAll(async () => {
      env = await createTestEnv(`prune_${kit.name}`, kit.env());
      services = await env.open();
      url = (await env.api(services)).url;
      await env.worker(services);
      key = await env.key(services, 'submitter');

      const [astronaut, coffee, chelsea, camera, rocket] = await Promise.all(
        ['astronaut.png', 'coffee.png', 'chelsea.png', 'camera.png', 'rocket.jpg'].map(photo),
      );
      a = await finishedBatch(['astronaut.png', 'coffee.png', 'chelsea.png']);
      a2 = await finishedBatch(['astronaut.png', 'camera.png']); // astronaut shared between two pruned batches: one blob
      await detectQueue().pause();
      c = await unfinishedBatch(['coffee.png', 'rocket.jpg']); // coffee shared with a kept, unfinished batch

      fresh = { orphan: await orphan(), temp: await written(kit.tempEntry(), 300) };
      await kit.write(env.config, foreign, Buffer.from('not a blob: nothing of the store\n'));
      gone = [astronaut!, chelsea!, camera!].map((p) => kit.blobEntry(p.key));
      keptBlobs = [coffee!, rocket!].map((p) => kit.blobEntry(p.key));
      expected = { batches: 2, images: 5, blobs: 3, bytes: astronaut!.size + chelsea!.size + camera!.size };
      if (kit.age) {
        const old = await orphan(2 * HOUR);
        gone.push(old.entry, (await written(kit.tempEntry(), 400, 2 * HOUR)).entry);
        expected = { ...expected, blobs: expected.blobs + 1, bytes: expected.bytes + old.size };
      }

      // The user's objects, the bytes of pruned blobs: at the very key the store gives a blob (prefix included), at the
      // blob layout with no prefix, and at a key of the user's own.
      for (const [entry, bytes] of [
        [`${PREFIX}${blobPath(astronaut!.key)}`, astronaut!.bytes],
        [blobPath(chelsea!.key), chelsea!.bytes],
        ['photos/camera.png', camera!.bytes],
      ] as const) {
        await s3.client.send(new PutObjectCommand({ Bucket: USER_BUCKET, Key: entry, Body: bytes }));
      }
      userObjects = await s3.keys(USER_BUCKET);
      expect(userObjects).toHaveLength(3);
      // The store holds what the scenario says, before anything is pruned.
      expect(await kit.contents(env.config)).toEqual(sorted([...gone, ...keptBlobs, fresh.orphan.entry, fresh.temp.entry, foreign]));
    }, 120_000);

    afterAll(async () => {
      await services?.queues
        .get('detect')
        ?.resume()
        .catch(() => undefined);
      await env?.cleanup();
    });

    it('--dry-run reports the counts and removes nothing', async () => {
      const before = await kit.contents(env.config);
      const rows = await count('images');
      const cli = await runCli(['prune', '--older-than', '0', '--dry-run', '--json'], { env: env.env });
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout.trim().split('\n')).toHaveLength(1);
      const out = JSON.parse(cli.stdout) as Record<string, unknown>;
      expect(Object.keys(out)).toEqual(['batches', 'images', 'blobs', 'bytes']);
      expect(out).toEqual(expected);
      expect(await kit.contents(env.config)).toEqual(before);
      expect(await s3.keys(USER_BUCKET)).toEqual(userObjects);
      expect(await count('images')).toBe(rows);
      expect(await count('batches WHERE id = ANY($1::uuid[])', [[a, a2]])).toBe(2);
      expect(await pruneAudits()).toEqual([]); // a dry run changes nothing, so it is not audited
    });

    it('removes every blob of the pruned batches; the shared blob, fresh orphans, temp leftovers and the user’s objects stay', async () => {
      const detectionsBefore = await count('detections d JOIN images i ON i.id = d.image_id WHERE i.batch_id = ANY($1::uuid[])', [[a, a2]]);
      expect(detectionsBefore).toBe(3); // the astronaut's face, twice (a2's from the cache), and camera's
      const cli = await runCli(['prune', '--older-than', '0', '--json'], { env: env.env });
      expect(cli.code, cli.stderr).toBe(0);
      expect(JSON.parse(cli.stdout)).toEqual(expected);

      expect(await count('batches WHERE id = ANY($1::uuid[])', [[a, a2]])).toBe(0);
      expect(await count('images WHERE batch_id = ANY($1::uuid[])', [[a, a2]])).toBe(0);
      expect(await count('detections')).toBe(0);
      expect(await count('images WHERE batch_id = $1', [c])).toBe(2);
      // Exactly what stays, listed behind Lookout's back: nothing of `gone` is left.
      expect(await kit.contents(env.config)).toEqual(sorted([...keptBlobs, fresh.orphan.entry, fresh.temp.entry, foreign]));
      expect(await s3.keys(USER_BUCKET)).toEqual(userObjects);

      const aged = kit.age ? 1 : 0;
      const audits = await pruneAudits();
      expect(audits).toHaveLength(1);
      expect(audits[0]).toMatchObject({
        actor: 'cli',
        outcome: 'ok',
        details: { ...expected, dryRun: false, olderThanDays: 0, orphanBlobs: aged, tempFiles: aged, blobDeleteFailures: 0 },
      });

      // Nothing left to prune: a second run deletes nothing.
      const again = await runCli(['prune', '--older-than', '0', '--json'], { env: env.env });
      expect(JSON.parse(again.stdout)).toEqual({ batches: 0, images: 0, blobs: 0, bytes: 0 });
      expect(await kit.contents(env.config)).toEqual(sorted([...keptBlobs, fresh.orphan.entry, fresh.temp.entry, foreign]));
    });

    it('two hours on (prune’s clock), the orphan and temp leftover written just now are swept; the kept batch’s blobs and the user’s objects stay', async () => {
      const later = { pool: services.pool, blobs: services.blobs, logger: env.logger, now: () => new Date(Date.now() + 2 * HOUR) };
      const sweep = { batches: 0, images: 0, blobs: 1, bytes: fresh.orphan.size, orphanBlobs: 1, tempFiles: 1, tempBytes: fresh.temp.size };

      const before = await kit.contents(env.config);
      expect(await prune(later, { olderThanDays: 0, actor: 'cli', dryRun: true })).toMatchObject({ ...sweep, dryRun: true });
      expect(await kit.contents(env.config)).toEqual(before);

      expect(await prune(later, { olderThanDays: 0, actor: 'cli' })).toMatchObject({ ...sweep, dryRun: false, blobDeleteFailures: 0 });
      expect(await kit.contents(env.config)).toEqual(sorted([...keptBlobs, foreign]));
      expect(await s3.keys(USER_BUCKET)).toEqual(userObjects);
      expect(await count('images WHERE batch_id = $1', [c])).toBe(2);
    });

    it('an image submitted by reference (blob_key NULL, source_url its s3:// URL) goes with its batch; its object stays', async () => {
      const [camera] = await Promise.all(['camera.png'].map(photo));
      const own = randomBytes(1500);
      const ownKey = sha(own);
      await kit.write(env.config, kit.blobEntry(ownKey), own);
      const batch = randomUUID();
      await env.sql(
        `INSERT INTO batches (id, status, model, min_score, total, created_by, finished_at)
       VALUES ($1, 'completed', 'blazeface-back', 0.75, 2, 'test', now() - interval '1 minute')`,
        [batch],
      );
      await env.sql(
        `INSERT INTO images (id, batch_id, position, filename, sha256, bytes, blob_key, source_url, model, min_score, status, finished_at) VALUES
         ($1, $3, 0, 'camera.png', $4, $5, NULL, $8, 'blazeface-back', 0.75, 'done', now()),
         ($2, $3, 1, 'upload.bin', $6, $7, $6, NULL, 'blazeface-back', 0.75, 'done', now())`,
        [randomUUID(), randomUUID(), batch, camera!.key, camera!.size, ownKey, own.length, `s3://${USER_BUCKET}/camera.png`],
      );
      const counts = { batches: 1, images: 2, blobs: 1, bytes: own.length };
      const before = await kit.contents(env.config);
      expect(before).toContain(kit.blobEntry(ownKey));

      const dry = await runCli(['prune', '--older-than', '0', '--dry-run', '--json'], { env: env.env });
      expect(dry.code, dry.stderr).toBe(0);
      expect(JSON.parse(dry.stdout)).toEqual(counts);
      expect(await kit.contents(env.config)).toEqual(before);

      const run = await runCli(['prune', '--older-than', '0', '--json'], { env: env.env });
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual(counts);
      expect((await pruneAudits()).at(-1)).toMatchObject({ outcome: 'ok', details: { ...counts, blobDeleteFailures: 0 } });
      expect(await count('batches WHERE id = $1', [batch])).toBe(0);
      expect(await kit.contents(env.config)).toEqual(sorted([...keptBlobs, foreign]));
      expect(await s3.keys(USER_BUCKET)).toEqual(userObjects);
    });

    it('the kept batch still completes from its blobs afterwards', async () => {
      await detectQueue().resume();
      expect((await waitForBatch(url, key, c)).status).toBe('completed');
    });
  });
