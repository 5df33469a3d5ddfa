// The OpenAPI 3.1 description of /v1, built from the route table: paths,
// parameters and bodies come from the zod schemas the routes validate with
// (zod's JSON Schema output is draft 2020-12, OpenAPI 3.1's own dialect).
import { z } from 'zod';
import { ROLES } from '../../db/repositories/api-keys.js';
import type { ApiRoute, RouteSpec } from '../route-spec.js';

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const out = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
    override: (ctx) => {
      // Dates travel as ISO 8601 strings (JSON.stringify; z.coerce.date on input).
      const def = (ctx.zodSchema as { _zod: { def: { type: string } } })._zod.def;
      if (def.type === 'date') Object.assign(ctx.jsonSchema, { type: 'string', format: 'date-time' });
    },
  }) as JsonSchema;
  delete out.$schema;
  return out;
}

export const errorBody = z.object({
  error: z.object({ code: z.string().describe('machine-readable, e.g. not_found'), message: z.string().describe('for people') }),
});

function parametersOf(schema: z.ZodObject | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const object = jsonSchema(schema, 'input');
  const required = new Set((object.required as string[] | undefined) ?? []);
  return Object.entries((object.properties as Record<string, JsonSchema> | undefined) ?? {}).map(([name, s]) => {
    const { description, ...rest } = s;
    return { name, in: where, required: where === 'path' || required.has(name), schema: rest, ...(description ? { description } : {}) };
  });
}

const ERROR_RESPONSES: Record<number, string> = {
  400: 'Invalid input; the message names each field',
  401: 'Missing, unknown, revoked or expired API key',
  403: 'The key has too low a role',
  404: 'No such resource',
  429: 'Rate limited; Retry-After says when to come back',
};

function responsesOf(spec: RouteSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(spec.responses)) {
    const type = r.contentType ?? 'application/json';
    const content = {
      ...(r.schema || type !== 'application/json'
        ? { [type]: { schema: r.schema ? jsonSchema(r.schema, 'output') : { type: 'string', contentMediaType: type } } }
        : {}),
      ...Object.fromEntries((r.alsoAs ?? []).map((other) => [other, { schema: { type: 'string', contentMediaType: other } }])),
    };
    out[status] = { description: r.description, ...(Object.keys(content).length > 0 ? { content } : {}) };
  }
  const implied = [
    401,
    429,
    ...(spec.role === 'viewer' ? [] : [403]),
    ...(spec.params ? [404] : []),
    ...(spec.query || spec.body || spec.multipart || (spec.params && spec.method !== 'get') ? [400] : []),
  ];
  for (const status of implied) {
    out[status] ??= { description: ERROR_RESPONSES[status], content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  }
  return out;
}

function operationOf(spec: RouteSpec): Record<string, unknown> {
  const roleNote = spec.role === 'viewer' ? 'Any valid API key.' : `Needs the ${spec.role} role or higher.`;
  const op: Record<string, unknown> = {
    operationId: spec.operationId,
    summary: spec.summary,
    description: [spec.description, roleNote].filter(Boolean).join('\n\n'),
    tags: [spec.tag],
    'x-lookout-role': spec.role,
    parameters: [...parametersOf(spec.params, 'path'), ...parametersOf(spec.query, 'query')],
    responses: responsesOf(spec),
  };
  if (spec.body) op.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(spec.body, 'input') } } };
  if (spec.multipart) {
    const fields = jsonSchema(spec.multipart.schema, 'input');
    const properties = {
      [spec.multipart.files.field]: {
        type: 'array',
        items: { type: 'string', contentMediaType: 'application/octet-stream' },
        description: spec.multipart.files.description,
      },
      ...((fields.properties as JsonSchema | undefined) ?? {}),
    };
    op.requestBody = {
      required: true,
      content: {
        'multipart/form-data': { schema: { type: 'object', properties, required: [spec.multipart.files.field] } },
        ...(spec.multipart.json ? { 'application/json': { schema: jsonSchema(spec.multipart.json, 'input') } } : {}),
      },
    };
  }
  return op;
}

const TAG_DESCRIPTIONS: Record<string, string> = {
  info: 'The calling key, the server, its models and its limits',
  batches: 'Submit images for detection and read the results',
  images: 'One image: annotated, previewed or as uploaded',
  backups: 'Encrypted database backups, verified by a real restore',
  queues: 'The BullMQ queues: counts and control',
  fleet: 'Health probes, worker processes and alerts',
  admin: 'API keys and the audit log',
};

/** /v1/batches/:id → /v1/batches/{id} */
export const openApiPath = (expressPath: string) => `/v1${expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`;

export function buildOpenApiDocument(routes: readonly ApiRoute[], info: { version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const { spec } of routes) {
    (paths[openApiPath(spec.path)] ??= {})[spec.method] = operationOf(spec);
  }
  return {
    openapi: '3.1.1',
    info: {
      title: 'Lookout API',
      version: info.version,
      description: `Image detection on a job-queue worker fleet. Send \`Authorization: Bearer <API key>\`. Roles, highest first: ${ROLES.join(' > ')}. Errors are {"error": {"code", "message"}}.`,
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    servers: [{ url: '/' }],
    security: [{ apiKey: [] }],
    tags: [...new Set(routes.map((r) => r.spec.tag))].map((name) => ({ name, description: TAG_DESCRIPTIONS[name] ?? name })),
    paths,
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'A Lookout API key (lookout keys create)' } },
      schemas: { Error: jsonSchema(errorBody, 'output') },
    },
  };
}
