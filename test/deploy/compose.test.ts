// docker-compose.yml and the Dockerfile, checked for what matters (Docker does
// not run here): Redis that never evicts and keeps an AOF, every process kind,
// scalable detect workers, a non-root production image.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../helpers/run-cli.js';

describe('docker-compose.yml', () => {
  it('has redis (AOF, noeviction), postgres, api, detect-worker, ops-worker', async () => {
    const compose = parse(await readFile(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, any> };
    const { services } = compose;
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['redis', 'postgres', 'api', 'detect-worker', 'ops-worker']));
    const redis = (services.redis.command as string[]).join(' ');
    expect(redis).toContain('--maxmemory-policy noeviction');
    expect(redis).toContain('--appendonly yes');
    expect(services.api.command).toEqual(['api']);
    expect(services['detect-worker'].command).toEqual(['worker', '--queues', 'detect', '--device', 'cpu', '--concurrency', '4']);
    expect(services['ops-worker'].command).toEqual(['worker', '--queues', 'batches,backup,health,notify']);
    // Scalable: no fixed container name or host port on the worker.
    expect(services['detect-worker'].container_name).toBeUndefined();
    expect(services['detect-worker'].ports).toBeUndefined();
    for (const name of ['api', 'detect-worker', 'ops-worker']) {
      expect(services[name].environment).toMatchObject({ REDIS_URL: 'redis://redis:6379', BLOB_DIR: '/data/blobs' });
      expect(services[name].volumes).toContain('blobs:/data/blobs');
    }
  });
});

describe('Dockerfile', () => {
  it('is multi-stage, installs production dependencies only and runs as non-root', async () => {
    const dockerfile = await readFile(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/COPY --from=build \/app\/dist/);
    expect(dockerfile, 'the console is built in the build stage').toMatch(/^COPY web \.\/web$/m);
  });
});
