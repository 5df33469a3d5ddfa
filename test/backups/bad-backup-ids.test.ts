// A malformed id is refused at the door, never turned into a job that fails:
// `lookout backup verify|restore <not-a-uuid>` exits 2 saying what an id looks
// like, an unknown one exits 1, and neither enqueues anything. Every /v1 route
// with an {id} answers a malformed one with 404 (GET) or 400 (POST, DELETE),
// never 500. The backup progress bar counts in binary units, as the rest does.
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { progressBar } from '../../src/cli/commands/backup.js';
import type { Services } from '../../src/runtime/services.js';
import { InvalidBackupRequestError, requestRestore, requestVerify } from '../../src/producers/backup-requests.js';
import { runCli } from '../helpers/run-cli.js';
import { authed, createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let url: string;
let admin: string;

beforeAll(async () => {
  env = await createTestEnv('bad_ids', { BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
  services = await env.open();
  url = (await env.api(services)).url;
  admin = await env.key(services, 'admin');
});
afterAll(() => env.cleanup());

/** Every job the backup queue holds, in any state. */
const backupJobs = async () => Object.values(await services.queues.get('backup')!.getJobCounts()).reduce((a, b) => a + b, 0);
const cli = (args: string[]) => runCli(args, { env: env.env });

describe('a backup that cannot be verified or restored is refused before anything is enqueued', () => {
  /** A catalogue row as the runs leave it. */
  async function row(status: string, file: string | null, error: string | null): Promise<string> {
    const id = randomUUID();
    await env.sql(`INSERT INTO backups (id, status, trigger, actor, file, sha256, error, finished_at) VALUES ($1, $2, 'manual', 'test', $3, $4, $5, now())`, [
      id,
      status,
      file,
      file ? 'ab' : null,
      error,
    ]);
    return id;
  }
  const state = async (id: string) => (await env.sql<{ status: string; error: string | null }>('SELECT status, error FROM backups WHERE id = $1', [id]))[0];
  const verify = (id: string, key = admin) => fetch(`${url}/v1/backups/${id}/verify`, { method: 'POST', ...authed(key) });

  it.each([
    ['failed', null, 'EEXIST: file already exists'],
    ['running', null, null],
    ['pruned', '/backups/gone.lkb', null],
  ] as const)('a %s backup: 409 backup_unusable, CLI verify and restore exit 1, the row and its error unchanged, no job', async (status, file, error) => {
    const id = await row(status, file, error);
    const res = await verify(id);
    expect(res.status).toBe(409);
    expect(((await res.json()) as any).error).toEqual({
      code: 'backup_unusable',
      message: expect.stringMatching(new RegExp(`^backup ${id} has no finished file to verify or restore \\(status ${status}\\)`)),
    });
    const cliVerify = await cli(['backup', 'verify', id, '--json']);
    expect(cliVerify.code).toBe(1);
    expect(JSON.parse(cliVerify.stdout)).toMatchObject({ id, status: 'backup_unusable' });
    const cliRestore = await cli(['backup', 'restore', id, '--target-database', 'lookout_t_never']);
    expect(cliRestore.code).toBe(1);
    expect(cliRestore.stderr).toMatch(/has no finished file to verify or restore/);
    expect(await state(id)).toEqual({ status, error });
    expect(await backupJobs()).toBe(0);
  });

  it('with backups off (no key): 503 backups_disabled, CLI exit 2, a verified backup stays verified, no job', async () => {
    const id = await row('verified', '/backups/good.lkb', null);
    const off = await env.open((c) => ({ ...c, backup: { ...c.backup, key: undefined, oldKeys: [] } }));
    const offUrl = (await env.api(off)).url;
    const res = await fetch(`${offUrl}/v1/backups/${id}/verify`, { method: 'POST', ...authed(admin) });
    expect(res.status).toBe(503);
    expect(((await res.json()) as any).error.code).toBe('backups_disabled');
    for (const args of [
      ['backup', 'verify', id, '--json'],
      ['backup', 'restore', id, '--target-database', 'lookout_t_never', '--json'],
    ]) {
      const result = await runCli(args, { env: { ...env.env, BACKUP_ENCRYPTION_KEY: '' } });
      expect(result.code, args.join(' ')).toBe(2);
      expect(JSON.parse(result.stdout)).toMatchObject({ id, status: 'backups_disabled', error: expect.stringMatching(/^backups are off/) });
    }
    expect(await state(id)).toEqual({ status: 'verified', error: null });
    expect(await backupJobs()).toBe(0);
  });
});

describe('lookout backup with a bad id', () => {
  it('verify <not-a-uuid>: exit 2, a clear message, no job', async () => {
    for (const args of [
      ['backup', 'verify', 'not-a-uuid'],
      ['backup', 'verify', 'not-a-uuid', '--json'],
      ['backup', 'restore', '1234', '--target-database', 'x'],
    ]) {
      const result = await cli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/expected a backup id, a UUID as `lookout backup list` prints/);
      expect(result.stderr).not.toMatch(/payload/);
    }
    expect(await backupJobs()).toBe(0);
  });

  it('run while backups are off: exit 2, how to turn them on, no job', async () => {
    const result = await runCli(['backup', 'run', '--json'], { env: { ...env.env, BACKUP_ENCRYPTION_KEY: '' } });
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toEqual({
      status: 'backups_disabled',
      error: expect.stringMatching(/^backups are off: BACKUP_ENCRYPTION_KEY is not set; .*openssl rand -base64 32/),
    });
    expect(await backupJobs()).toBe(0);
  });

  it('verify <unknown uuid>: exit 1, not found, no job', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    const result = await cli(['backup', 'verify', id, '--json']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({ id, status: 'not_found', error: `no backup ${id} (lookout backup list shows them)` });
    const restore = await cli(['backup', 'restore', id, '--target-database', 'lookout_t_never']);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toBe(`lookout backup: no backup ${id} (lookout backup list shows them)\n`);
    expect(await backupJobs()).toBe(0);
  });

  it('the request helpers refuse what the job would refuse, before enqueuing', async () => {
    await expect(requestVerify(services.queues, 'not-a-uuid', 'test')).rejects.toThrow(InvalidBackupRequestError);
    await expect(requestVerify(services.queues, 'not-a-uuid', 'test')).rejects.toThrow(/backupId: /);
    await expect(
      requestRestore(services.queues, {
        backupId: '00000000-0000-4000-8000-000000000000',
        targetDatabase: 'x'.repeat(64),
        replaceLive: false,
        skipSafetyBackup: false,
        actor: 'test',
      }),
    ).rejects.toThrow(/targetDatabase: /);
    expect(await backupJobs()).toBe(0);
  });
});

describe('/v1 routes with a malformed id', () => {
  it('POST /v1/backups/:id/verify is a 400 naming the id, and nothing is enqueued', async () => {
    const res = await fetch(`${url}/v1/backups/not-a-uuid/verify`, { method: 'POST', ...authed(admin) });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { code: 'bad_request', message: 'id: expected a backup id (a UUID, as GET /v1/backups lists) (got "not-a-uuid")' },
    });
    expect(await backupJobs()).toBe(0);
  });

  it('every documented route with an {id}: 404 for a GET, 400 for a POST or DELETE, never 500', async () => {
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    const seen: string[] = [];
    for (const [template, ops] of Object.entries(doc.paths)) {
      if (!template.includes('{id}')) continue;
      for (const [method, op] of Object.entries(ops)) {
        const res = await fetch(`${url}${template.replace('{id}', 'not-a-uuid')}`, {
          method: method.toUpperCase(),
          headers: { ...authed(admin).headers, 'content-type': 'application/json' },
          ...(method === 'get' ? {} : { body: '{}' }),
        });
        const body = (await res.json()) as { error?: { code: string } };
        // Key ids are not UUIDs: a well-formed-enough id that names no key.
        const expected = method === 'get' || template === '/v1/keys/{id}' ? 404 : 400;
        expect(`${method} ${template} ${res.status} ${body.error?.code}`).toBe(
          `${method} ${template} ${expected} ${expected === 404 ? 'not_found' : 'bad_request'}`,
        );
        expect(op.responses[String(expected)], `${method} ${template} documents ${expected}`).toBeDefined();
        seen.push(`${method} ${template}`);
      }
    }
    expect(seen).toEqual(
      expect.arrayContaining([
        'post /v1/backups/{id}/verify',
        'get /v1/backups/{id}',
        'get /v1/batches/{id}',
        'get /v1/batches/{id}/results',
        'get /v1/images/{id}/preview.jpg',
        'get /v1/images/{id}/annotated.png',
        'get /v1/images/{id}/original',
        'delete /v1/keys/{id}',
        'post /v1/alerts/{id}/silence',
      ]),
    );
    expect(await backupJobs()).toBe(0);
  });
});

describe('the backup progress bar', () => {
  it('shows sizes in binary units (MiB), like the rest of Lookout', () => {
    let text = '';
    const stream = Object.assign(
      new Writable({
        write(chunk: Buffer, _enc, done) {
          text += chunk.toString();
          done();
        },
      }),
      { isTTY: true, columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true },
    ) as unknown as NodeJS.WriteStream;
    const bar = progressBar({ json: false }, 'backup', stream);
    bar.update({ rawBytes: 5 * 1024 * 1024, estimatedBytes: 10 * 1024 * 1024 });
    bar.stop();
    expect(text).toContain('backup [');
    expect(text).toContain('50% | 5.0 MiB');
    expect(text).not.toMatch(/\bMB\b/);
  });
});
