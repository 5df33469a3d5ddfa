// What /openapi.json promises is what the API answers: every GET route of the
// document is called on real data (a finished batch, a backup, an alert-free
// fleet) and each answer is checked against the response schema documented
// for its status (JSON Schema 2020-12, ajv), or its content type for images.
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/runtime/services.js';
import { ALL_PHOTOS, readPhoto } from '../helpers/photos.js';
import { authed, createTestEnv, submit, waitForBatch, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let url: string;
let admin: string;
let doc: Record<string, any>;
const ids: Record<string, string> = {};

beforeAll(async () => {
  env = await createTestEnv('openapi_answers', { BACKUP_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
  services = await env.open();
  url = (await env.api(services)).url;
  await env.worker(services, { queues: ['detect', 'batches', 'backup', 'health'] });
  admin = await env.key(services, 'admin');
  doc = (await (await fetch(`${url}/openapi.json`)).json()) as Record<string, any>;

  const { body } = await submit(url, admin, await Promise.all(ALL_PHOTOS.map(async (name) => ({ name, bytes: await readPhoto(name) }))));
  await waitForBatch(url, admin, body.id);
  ids.batch = body.id;
  ids.image = body.images[0].id;

  const backup = await fetch(`${url}/v1/backups`, { method: 'POST', ...authed(admin) });
  expect(backup.status).toBe(202);
  ids.backup = ((await backup.json()) as { id: string }).id;
  for (let i = 0; i < 300; i++) {
    const status = ((await (await fetch(`${url}/v1/backups/${ids.backup}`, authed(admin))).json()) as { status: string }).status;
    if (status !== 'queued' && status !== 'running') break;
    await new Promise((r) => setTimeout(r, 100));
  }
}, 120_000);
afterAll(() => env.cleanup());

function concrete(template: string): string | undefined {
  return template.replace(/\{id\}/, () => {
    if (template.startsWith('/v1/batches/')) return ids.batch!;
    if (template.startsWith('/v1/images/')) return ids.image!;
    if (template.startsWith('/v1/backups/')) return ids.backup!;
    return '{unresolved}';
  });
}

describe('every documented GET answers as documented', () => {
  it('on real data, status by status', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    ajv.addSchema(doc, 'openapi');
    const checked: string[] = [];
    for (const [template, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      const op = ops.get;
      if (!op) continue;
      const path = concrete(template)!;
      expect(path, template).not.toContain('{');
      const res = await fetch(`${url}${path}`, authed(admin));
      const documented = op.responses[String(res.status)];
      expect(documented, `${template} answered ${res.status}, which it does not document`).toBeDefined();
      const [type, media] = Object.entries(documented.content ?? {})[0] as [string, { schema: unknown }];
      expect(res.headers.get('content-type'), template).toContain(type.replace(/\*$/, ''));
      if (type === 'application/json') {
        const validate = ajv.compile(media.schema as object);
        const body = await res.json();
        expect(validate(body) ? [] : validate.errors, `${template} ${res.status}`).toEqual([]);
      } else {
        expect((await res.arrayBuffer()).byteLength, template).toBeGreaterThan(100);
      }
      checked.push(`${template} ${res.status}`);
    }
    expect(checked).toEqual(
      expect.arrayContaining([
        '/v1/batches 200',
        '/v1/batches/{id} 200',
        '/v1/batches/{id}/results 200',
        '/v1/images 200',
        '/v1/images/{id}/preview.jpg 200',
        '/v1/images/{id}/annotated.png 200',
        '/v1/images/{id}/original 200',
        '/v1/backups/{id} 200',
        '/v1/workers 200',
        '/v1/stats 200',
        '/v1/queues 200',
        '/v1/me 200',
        '/v1/info 200',
        '/v1/keys 200',
        '/v1/audit 200',
      ]),
    );
  });

  it('backups are shown by file name, never by a path on the server (GET /v1/backups, GET /v1/backups/:id)', async () => {
    const list = await fetch(`${url}/v1/backups`, authed(admin));
    const one = await fetch(`${url}/v1/backups/${ids.backup}`, authed(admin));
    const listText = await list.text();
    const oneText = await one.text();
    const dir = env.config.backup.dir;
    expect(listText).not.toContain(dir);
    expect(oneText).not.toContain(dir);
    const view = JSON.parse(oneText) as { file: string };
    expect(view.file).toMatch(/^lookout-[^/\\]+\.lkb$/);
    const [row] = await env.sql<{ file: string }>('SELECT file FROM backups WHERE id = $1', [ids.backup]);
    expect(row!.file).toBe(path.join(dir, view.file)); // the catalogue keeps the path; only the view hides it
  });

  it('and so does an error', async () => {
    const ajv = new Ajv2020({ strict: false });
    const validate = ajv.compile(doc.components.schemas.Error);
    const res = await fetch(`${url}/v1/batches/00000000-0000-4000-8000-000000000000`, authed(admin));
    expect(res.status).toBe(404);
    expect(validate(await res.json())).toBe(true);
  });
});
