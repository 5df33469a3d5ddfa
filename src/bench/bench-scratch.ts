// A bench's own scratch space on the servers it is pointed at: a database, a
// queue prefix and a work directory, and the config that uses them; remove()
// takes all three away again.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../config/config.js';
import { deleteQueueKeys, dropDatabase } from '../runtime/scratch-resources.js';

export interface BenchScratch {
  work: string;
  config: Config;
  /** The environment the config was read from: for a Lookout child process on the same scratch space. */
  env: Record<string, string | undefined>;
  remove(): Promise<void>;
}

export async function openBenchScratch(env: Record<string, string | undefined>, label: string, extraEnv: Record<string, string> = {}): Promise<BenchScratch> {
  const tag = randomBytes(3).toString('hex');
  const work = await mkdtemp(path.join(os.tmpdir(), `lookout-bench-${label}-`));
  const adminUrl = new URL(env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/lookout_bench_${tag}`;
  adminUrl.pathname = '/postgres';
  const prefix = `bench_${tag}`;
  const scratchEnv = {
    ...env,
    DATABASE_URL: dbUrl.toString(),
    LOOKOUT_QUEUE_PREFIX: prefix,
    BLOB_DIR: path.join(work, 'blobs'),
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    ...extraEnv,
  };
  const config = loadConfig(scratchEnv);
  return {
    work,
    config,
    env: scratchEnv,
    async remove() {
      await deleteQueueKeys(config.redisUrl, prefix);
      await dropDatabase(adminUrl.toString(), dbUrl.pathname.slice(1));
      await rm(work, { recursive: true, force: true });
    },
  };
}
