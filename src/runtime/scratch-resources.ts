// Removing what a throwaway environment (a test file, a benchmark run) made:
// every Redis key under its queue prefix, and its database.
import { dropDatabaseIfExists, withServer } from '../db/server-admin.js';
import { Redis } from 'ioredis';

export async function deleteQueueKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Drops `name` on the server `serverUrl` points at. */
export function dropDatabase(serverUrl: string, name: string): Promise<void> {
  return withServer(serverUrl, (admin) => dropDatabaseIfExists(admin, name));
}
