// An isolated Lookout environment per test file on the real services: its own
// database (created, migrated, dropped), its own queue prefix (obliterated),
// its own blob directory. Everything opened through it is closed by
// cleanup(), in reverse order, and the database, keys and blobs removed.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { loadConfig, type Config } from '../../src/config/config.js';
import { createApiKey } from '../../src/auth/api-keys.js';
import type { Role } from '../../src/db/repositories/api-keys.js';
import { openServices, type Services } from '../../src/runtime/services.js';
import { deleteQueueKeys, dropDatabase } from '../../src/runtime/scratch-resources.js';
import { prepareDatabase } from '../../src/runtime/prepare-database.js';
import { startApi, type RunningApi } from '../../src/api/server.js';
import { startWorkerProcess, type RunningWorkerProcess, type WorkerProcessOptions } from '../../src/workers/worker-process.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const ADMIN_DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestEnv {
  config: Config;
  env: Record<string, string>;
  logger: Logger;
  open(overrides?: (c: Config) => Config): Promise<Services>;
  api(services: Services): Promise<RunningApi & { url: string }>;
  worker(services: Services, options?: Partial<WorkerProcessOptions>): Promise<RunningWorkerProcess>;
  key(services: Services, role?: Role): Promise<string>;
  /** Stops every worker opened so far (the services stay open). */
  closeWorkers(): Promise<void>;
  sql<T extends pg.QueryResultRow = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  cleanup(): Promise<void>;
}

function databaseUrlFor(name: string, adminUrl: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function createTestEnv(
  label: string,
  extraEnv: Record<string, string> = {},
  servers: { adminDatabaseUrl?: string; redisUrl?: string } = {},
): Promise<TestEnv> {
  const adminUrl = servers.adminDatabaseUrl ?? ADMIN_DATABASE_URL;
  const redisUrl = servers.redisUrl ?? REDIS_URL;
  const id = `${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(3).toString('hex')}`;
  const database = `lookout_t_${id}`;
  const prefix = `t_${id}`;
  const blobDir = await mkdtemp(path.join(os.tmpdir(), `lookout-blobs-${id}-`));
  const env = {
    DATABASE_URL: databaseUrlFor(database, adminUrl),
    REDIS_URL: redisUrl,
    LOOKOUT_QUEUE_PREFIX: prefix,
    BLOB_DIR: blobDir,
    LOOKOUT_PROFILE: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    LOG_FORMAT: 'json',
    SHUTDOWN_GRACE_MS: '5000',
    BACKUP_DIR: path.join(blobDir, 'backups'),
    BACKUP_SCHEDULES: 'false',
    // Tests poll; the limits have tests of their own.
    RATE_LIMIT_PER_MINUTE: '1000000',
    RATE_LIMIT_UPLOADS_PER_MINUTE: '1000000',
    RATE_LIMIT_ANONYMOUS_PER_MINUTE: '1000000',
    ...extraEnv,
  };
  const config = loadConfig(env);
  const logger = pino({ level: env.LOG_LEVEL });
  const closers: Array<{ what: string; close: () => Promise<void> }> = [];
  const sqlPool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 2 });
  sqlPool.on('error', () => undefined); // an idle client cut by a test (a live restore) is simply replaced
  let migrated = false;

  const testEnv: TestEnv = {
    config,
    env,
    logger,
    async open(overrides) {
      const services = openServices(overrides ? overrides(config) : config, logger);
      closers.push({ what: 'services', close: () => services.close() });
      if (!migrated) {
        await prepareDatabase(services);
        migrated = true;
      }
      return services;
    },
    async api(services) {
      const api = await startApi(services, 0);
      closers.push({ what: 'api', close: () => api.close() });
      return { ...api, url: `http://127.0.0.1:${api.port}` };
    },
    async worker(services, options = {}) {
      const worker = await startWorkerProcess(services, { queues: ['detect', 'batches'], concurrency: 2, ...options });
      let closed = false;
      const close = async () => {
        if (closed) return;
        closed = true;
        await worker.close(5000);
      };
      closers.push({ what: 'worker', close });
      return worker;
    },
    async closeWorkers() {
      for (const c of closers.filter((c) => c.what === 'worker')) await c.close();
    },
    async key(services, role = 'admin') {
      return (await createApiKey(services.pool, { name: `test-${role}`, role, actor: 'test' })).token;
    },
    async sql(text, params) {
      return (await sqlPool.query(text, params)).rows;
    },
    async cleanup() {
      // Close in reverse order of opening: api and workers before the services they use.
      for (const { close } of closers.reverse()) await close().catch(() => undefined);
      await sqlPool.end();
      await deleteQueueKeys(redisUrl, prefix);
      await dropDatabase(adminUrl, database);
      await rm(blobDir, { recursive: true, force: true });
    },
  };
  return testEnv;
}

/** BLOB_DIR of a configuration with BLOB_STORE=fs (the tests' default). @throws with BLOB_STORE=s3 */
export function fsBlobDir(config: Config): string {
  if (config.blobs.store !== 'fs') throw new Error(`BLOB_STORE is ${config.blobs.store}, not fs`);
  return config.blobs.dir;
}

/** Polls a batch until it leaves queued/running. */
export async function waitForBatch(url: string, key: string, id: string, timeoutMs = 60_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${url}/v1/batches/${id}`, { headers: { authorization: `Bearer ${key}` } });
    const body = (await res.json()) as Record<string, any>;
    if (body.status !== 'queued' && body.status !== 'running') return body;
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${body.status} after ${timeoutMs} ms: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** POST /v1/batches with the given files ({name, bytes}) and fields. */
export async function submit(
  url: string,
  key: string | undefined,
  files: Array<{ name: string; bytes: Buffer; type?: string }>,
  fields: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, any> }> {
  const form = new FormData();
  for (const f of files) form.append('images', new Blob([f.bytes], { type: f.type ?? 'application/octet-stream' }), f.name);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  const res = await fetch(`${url}/v1/batches`, {
    method: 'POST',
    body: form,
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

export const authed = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
