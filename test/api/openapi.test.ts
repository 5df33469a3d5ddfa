// /openapi.json: valid OpenAPI 3.1 (checked by a maintained validator), built
// from the route table, and naming every route express really has under /v1,
// with the schemas the routes validate with. /docs serves Swagger UI locally.
import SwaggerParser from '@apidevtools/swagger-parser';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import type { Services } from '../../src/runtime/services.js';
import { authed, createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
let url: string;
let doc: Record<string, any>;

beforeAll(async () => {
  env = await createTestEnv('openapi');
  services = await env.open();
  url = (await env.api(services)).url;
  const res = await fetch(`${url}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  doc = (await res.json()) as Record<string, any>;
});
afterAll(() => env.cleanup());

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  name?: string;
  handle?: { stack?: Layer[] };
  matchers?: Array<(path: string) => unknown>;
}

/** Every (method, path) express matches under /v1, read from the app's own router stack. */
function expressV1Routes(): string[] {
  const app = createApp(services) as unknown as { router: { stack: Layer[] } };
  const v1 = app.router.stack.find((l) => l.name === 'router' && l.matchers?.some((m) => m('/v1/x')));
  const stack = v1?.handle?.stack;
  if (!stack) throw new Error('the /v1 router is not mounted');
  const found: string[] = [];
  for (const layer of stack) {
    if (!layer.route) continue;
    for (const method of Object.keys(layer.route.methods)) found.push(`${method.toUpperCase()} /v1${layer.route.path}`);
  }
  return found;
}

describe('/openapi.json', () => {
  it('validates as OpenAPI 3.1', async () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    // A second maintained validator, which also resolves every $ref.
    const parsed = await SwaggerParser.validate(structuredClone(doc) as never);
    expect((parsed as { openapi?: string }).openapi).toBe(doc.openapi);
  });

  it('gives every tag a description and every operation a unique operationId', () => {
    for (const tag of doc.tags) expect(tag.description, tag.name).toBeTruthy();
    const ids = Object.values(doc.paths as Record<string, Record<string, { operationId: string }>>).flatMap((ops) =>
      Object.values(ops).map((o) => o.operationId),
    );
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('describes every route registered under /v1, and nothing else', () => {
    const registered = expressV1Routes();
    expect(registered.length).toBeGreaterThanOrEqual(20);
    const described = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/\{([^}]+)\}/g, ':$1')}`),
    );
    expect(new Set(described)).toEqual(new Set(registered));
    expect(described).toHaveLength(registered.length);
    for (const must of [
      'POST /v1/batches',
      'GET /v1/batches/:id',
      'GET /v1/batches/:id/results',
      'GET /v1/images/:id/annotated.png',
      'GET /v1/me',
      'POST /v1/backups',
    ]) {
      expect(registered).toContain(must);
    }
  });

  it('carries the zod schemas the routes validate with', async () => {
    const submit = doc.paths['/v1/batches'].post;
    const form = submit.requestBody.content['multipart/form-data'].schema;
    expect(Object.keys(form.properties)).toEqual(['images', 'model', 'minScore', 'webhookUrl']);
    // One schema for every minScore (src/text/min-score.ts): a form sends the decimal string, JSON may send a number.
    expect(form.properties.minScore.anyOf).toEqual([
      { type: 'number', minimum: 0, maximum: 1 },
      { type: 'string', pattern: '^\\s*(?:(?:\\d+(?:\\.\\d*)?|\\.\\d+)\\s*)?$' },
      { type: 'null' },
    ]);
    expect(submit['x-lookout-role']).toBe('submitter');
    expect(Object.keys(submit.responses)).toEqual(expect.arrayContaining(['202', '400', '401', '403', '413', '415', '429']));

    const list = doc.paths['/v1/batches'].get;
    const limit = list.parameters.find((p: any) => p.name === 'limit');
    expect(limit).toMatchObject({ in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } });

    const key = doc.paths['/v1/keys'].post.requestBody.content['application/json'].schema;
    expect(key.properties.role.enum).toEqual(['admin', 'operator', 'submitter', 'viewer']);
    expect(key.additionalProperties).toBe(false);

    // The same schema answers at the edge: what the document says is refused is refused.
    const admin = await env.key(services, 'admin');
    const refused = await fetch(`${url}/v1/keys`, {
      method: 'POST',
      headers: { ...authed(admin).headers, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', role: 'root' }),
    });
    expect(refused.status).toBe(400);
    const tooMany = await fetch(`${url}/v1/batches?limit=201`, authed(admin));
    expect(tooMany.status).toBe(400);
    expect(((await tooMany.json()) as any).error.message).toMatch(/limit/);

    const results = doc.paths['/v1/batches/{id}/results'].get;
    expect(results.parameters[0]).toMatchObject({ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } });
    const image = results.responses['200'].content['application/json'].schema.properties.images.items;
    expect(Object.keys(image.properties)).toEqual(['id', 'filename', 'sha256', 'source', 'width', 'height', 'model', 'status', 'error', 'detections']);
  });

  it('is served without a key; /v1 itself still needs one', async () => {
    expect((await fetch(`${url}/v1/info`)).status).toBe(401);
  });
});

describe('/docs', () => {
  it('serves Swagger UI from the package, pointed at /openapi.json', async () => {
    const page = await fetch(`${url}/docs`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('/docs/swagger-ui-bundle.js');
    expect(html).not.toMatch(/https?:\/\//); // nothing from a CDN
    const init = await (await fetch(`${url}/docs/init.js`)).text();
    expect(init).toContain("url: '/openapi.json'");
    const bundle = await fetch(`${url}/docs/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect(Number(bundle.headers.get('content-length'))).toBeGreaterThan(500_000);
    expect((await fetch(`${url}/docs/package.json`)).status).toBe(404);
  });
});
