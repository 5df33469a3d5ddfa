// docker-compose.yml and the Dockerfile, checked for what matters (Docker does
// not run here): Redis that never evicts and keeps an AOF, every process kind,
// scalable detect workers, a non-root production image.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/config.js';
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

/**
 * Compose's interpolation of one value, as far as this file uses it:
 * ${VAR:-default} (unset or empty), ${VAR-default} (unset), ${VAR:?message}.
 */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{([A-Z0-9_]+)(:-|-|:\?)?([^}]*)\}/g, (_, name: string, op: string | undefined, arg: string) => {
    const v = env[name];
    if (op === ':-') return v ? v : arg;
    if (op === '-') return v ?? arg;
    if (op === ':?' && !v) throw new Error(`${name}: ${arg}`);
    return v ?? '';
  });
}

describe('docker-compose.yml, the s3 profile', () => {
  const load = async () =>
    (parse(await readFile(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, any> }).services;
  const lookoutServices = ['migrate', 'api', 'detect-worker', 'ops-worker'];
  const configOf = (service: Record<string, any>, shell: Record<string, string>) =>
    loadConfig(Object.fromEntries(Object.entries(service.environment as Record<string, string>).map(([k, v]) => [k, interpolate(String(v), shell)])));

  it('adds MinIO and a one-shot that creates the bucket, only with --profile s3', async () => {
    const services = await load();
    expect(services.minio.profiles).toEqual(['s3']);
    expect(services['minio-bucket'].profiles).toEqual(['s3']);
    expect(services['minio-bucket'].command.join(' ')).toBe('mb --ignore-existing minio/${S3_BUCKET:-lookout}');
    expect(services['minio-bucket'].depends_on).toEqual({ minio: { condition: 'service_healthy' } });
    // MinIO's user is the one Lookout's SDK presents: the same variables, the same defaults.
    const shell = {};
    const lookoutEnv = services.api.environment as Record<string, string>;
    expect(interpolate(services.minio.environment.MINIO_ROOT_USER, shell)).toBe(interpolate(lookoutEnv.AWS_ACCESS_KEY_ID!, shell));
    expect(interpolate(services.minio.environment.MINIO_ROOT_PASSWORD, shell)).toBe(interpolate(lookoutEnv.AWS_SECRET_ACCESS_KEY!, shell));
    // Without the profile nothing waits for them (required: false); with it, the first Lookout process waits for the bucket.
    expect(services.migrate.depends_on['minio-bucket']).toEqual({ condition: 'service_completed_successfully', required: false });
    for (const name of ['api', 'detect-worker', 'ops-worker']) expect(services[name].depends_on.migrate.condition).toBe('service_completed_successfully');
  });

  it('every Lookout service: BLOB_DIR by default, the profile bucket with BLOB_STORE=s3, another store by the S3_* variables', async () => {
    const services = await load();
    const key = Buffer.alloc(32, 1).toString('base64');
    for (const name of lookoutServices) {
      const service = services[name];
      expect(configOf(service, { BACKUP_ENCRYPTION_KEY: key }).blobs, name).toEqual({ store: 'fs', dir: '/data/blobs' });
      const s3 = configOf(service, { BACKUP_ENCRYPTION_KEY: key, BLOB_STORE: 's3' });
      expect(s3.blobs, name).toEqual({ store: 's3', bucket: 'lookout', prefix: '' });
      expect(s3.s3, name).toEqual({ region: 'us-east-1', endpoint: 'http://minio:9000', forcePathStyle: true });
      const aws = configOf(service, {
        BACKUP_ENCRYPTION_KEY: key,
        BLOB_STORE: 's3',
        S3_BUCKET: 'my-images',
        S3_ENDPOINT: '',
        S3_FORCE_PATH_STYLE: 'false',
        S3_REGION: 'eu-west-1',
      });
      expect(aws.blobs, name).toEqual({ store: 's3', bucket: 'my-images', prefix: '' });
      expect(aws.s3, name).toEqual({ region: 'eu-west-1', endpoint: undefined, forcePathStyle: false });
    }
  });
});

describe('docker-compose.yml, the pitr profile', () => {
  const load = async () =>
    (parse(await readFile(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, any> }).services;
  const envOf = (service: Record<string, any>, shell: Record<string, string>) =>
    Object.fromEntries(Object.entries(service.environment as Record<string, string>).map(([k, v]) => [k, interpolate(String(v), shell)]));

  it('adds a Postgres archiving through pgBackRest, the stanza and a pitr worker beside it, only with --profile pitr', async () => {
    const services = await load();
    for (const name of ['postgres-pitr', 'pitr-stanza', 'pitr-worker']) expect(services[name].profiles, name).toEqual(['pitr']);
    const command = (services['postgres-pitr'].command as string[]).join(' ');
    expect(command).toContain('archive_mode=on');
    expect(command).toContain('archive_command=pgbackrest --stanza=lookout archive-push %p');
    expect(command).toContain('archive_timeout=60');
    expect(services['pitr-stanza'].entrypoint.concat(services['pitr-stanza'].command)).toEqual(['pgbackrest', '--stanza=lookout', 'stanza-create']);
    expect(services['pitr-worker'].command).toEqual(['worker', '--queues', 'pitr']);
    // The worker shares the server's data, socket and repository.
    expect(services['pitr-worker'].volumes).toEqual(services['postgres-pitr'].volumes);
    expect(services['postgres-pitr'].volumes).toEqual(expect.arrayContaining(['pgbackrest-repo:/var/lib/pgbackrest', 'pitr-postgres-run:/var/run/postgresql']));
    const worker = loadConfig(envOf(services['pitr-worker'], {}));
    expect(worker.pitr).toMatchObject({ configFile: '/etc/pgbackrest/pgbackrest.conf', stanza: 'lookout' });
    expect(new URL(worker.databaseUrl).hostname).toBe('postgres-pitr');
    // The ops worker everywhere else has no pitr queue; Lookout follows POSTGRES_HOST to the archiving server.
    expect(services['ops-worker'].command.join(' ')).not.toContain('pitr');
    const key = Buffer.alloc(32, 1).toString('base64');
    expect(new URL(loadConfig(envOf(services.api, { BACKUP_ENCRYPTION_KEY: key })).databaseUrl).hostname).toBe('postgres');
    expect(new URL(loadConfig(envOf(services.api, { BACKUP_ENCRYPTION_KEY: key, POSTGRES_HOST: 'postgres-pitr' })).databaseUrl).hostname).toBe('postgres-pitr');
    expect(services.migrate.depends_on['postgres-pitr']).toEqual({ condition: 'service_healthy', required: false });
  });

  it("its pgbackrest.conf holds no secret: the cipher pass is pgBackRest's own variable", async () => {
    const conf = await readFile(path.join(REPO_ROOT, 'deploy', 'pitr', 'pgbackrest.conf'), 'utf8');
    expect(conf).toMatch(/^repo1-cipher-type=aes-256-cbc$/m);
    expect(conf).not.toMatch(/^repo1-cipher-pass/m);
    const services = await load();
    for (const name of ['postgres-pitr', 'pitr-stanza', 'pitr-worker']) {
      expect(services[name].environment.PGBACKREST_REPO1_CIPHER_PASS, name).toBe('${PGBACKREST_REPO1_CIPHER_PASS:-}');
    }
  });
});

describe('docker-compose.yml, the tracing profile', () => {
  const load = async () =>
    (parse(await readFile(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, any> }).services;
  const configOf = (service: Record<string, any>, shell: Record<string, string>) =>
    loadConfig(Object.fromEntries(Object.entries(service.environment as Record<string, string>).map(([k, v]) => [k, interpolate(String(v), shell)])));
  const key = Buffer.alloc(32, 1).toString('base64');

  it('adds Jaeger (OTLP over HTTP inside the network, its UI on loopback), only with --profile tracing', async () => {
    const services = await load();
    expect(services.jaeger.profiles).toEqual(['tracing']);
    expect(services.jaeger.image).toMatch(/^jaegertracing\/jaeger:/);
    expect(services.jaeger.expose).toEqual(['4318']);
    expect(services.jaeger.ports).toEqual(['127.0.0.1:16686:16686']);
  });

  it('every Lookout service: tracing off by default, on to Jaeger (or any endpoint) by OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    const services = await load();
    for (const name of ['migrate', 'api', 'detect-worker', 'ops-worker']) {
      expect(configOf(services[name], { BACKUP_ENCRYPTION_KEY: key }).tracing, name).toEqual({
        enabled: false,
        endpoint: undefined,
        protocol: 'http/protobuf',
        serviceName: 'lookout',
      });
      expect(configOf(services[name], { BACKUP_ENCRYPTION_KEY: key, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' }).tracing, name).toEqual({
        enabled: true,
        endpoint: 'http://jaeger:4318',
        protocol: 'http/protobuf',
        serviceName: 'lookout',
      });
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
