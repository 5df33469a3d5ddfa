// One route table for /v1: each route is a spec (method, path, role, the zod
// schemas of its params, query and body, its responses) and a handler. The
// same spec mounts the route on express, validates its input, and describes
// it in /openapi.json, so the description cannot drift from what is enforced.
import type { Request, RequestHandler, Response, Router } from 'express';
import type { z } from 'zod';
import type { Role } from '../db/repositories/api-keys.js';
import { requireRole } from './authenticate.js';
import { badRequest, notFound } from './http-errors.js';
import { zodIssues } from '../text/zod-issues.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'delete';

export interface ResponseSpec {
  description: string;
  /** JSON body; omitted for bodies without a fixed shape. */
  schema?: z.ZodType;
  /** Default application/json. */
  contentType?: string;
  /** Other media types the same status may carry, as text (a query parameter chooses: ?format=csv). */
  alsoAs?: string[];
}

type AnyObject = z.ZodObject | undefined;
type AnyBody = z.ZodType | undefined;
type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteSpec<P extends AnyObject = AnyObject, Q extends AnyObject = AnyObject, B extends AnyBody = AnyBody> {
  method: HttpMethod;
  /** Express path relative to /v1, e.g. /batches/:id. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  /** The least role that may call it; viewer means any valid key. */
  role: Role;
  /**
   * A path parameter that fails its schema (a malformed id): on a GET it
   * names no resource, 404 "<notFound> <value> not found"; on a POST or
   * DELETE, an action on it is a bad request, 400 naming the parameter.
   */
  params?: P;
  notFound?: string;
  query?: Q;
  body?: B;
  /** multipart/form-data upload, described here and parsed by the handler (streams). */
  multipart?: {
    schema: z.ZodObject;
    files: { field: string; description: string };
    /** The same request as a JSON body instead (parsed by the handler). */ json?: z.ZodType;
  };
  responses: Record<number, ResponseSpec>;
  /** Extra guards after the role check (an upload rate limit). */
  before?: RequestHandler[];
}

export interface RouteInput<P extends AnyObject, Q extends AnyObject, B extends AnyBody> {
  req: Request;
  res: Response;
  params: Out<P>;
  query: Out<Q>;
  body: Out<B>;
}

export interface ApiRoute {
  spec: RouteSpec;
  handler: RequestHandler;
}

export function route<P extends AnyObject = undefined, Q extends AnyObject = undefined, B extends AnyBody = undefined>(
  spec: RouteSpec<P, Q, B>,
  handle: (input: RouteInput<P, Q, B>) => Promise<void> | void,
): ApiRoute {
  const handler: RequestHandler = async (req, res) => {
    refuseNulCharacters(req);
    let params: unknown;
    if (spec.params) {
      const parsed = spec.params.safeParse(req.params);
      if (!parsed.success) {
        const raw = Object.values(req.params as Record<string, string>).join('/');
        if (spec.method !== 'get') throw badRequest(`${zodIssues(parsed.error, 'path')} (got "${raw}")`);
        throw notFound(`${spec.notFound ?? 'resource'} ${raw}`);
      }
      params = parsed.data;
    }
    let query: unknown;
    if (spec.query) {
      const parsed = spec.query.safeParse(req.query);
      if (!parsed.success) throw badRequest(zodIssues(parsed.error, 'query'));
      query = parsed.data;
    }
    let body: unknown;
    if (spec.body) {
      const parsed = spec.body.safeParse(req.body ?? {});
      if (!parsed.success) throw badRequest(zodIssues(parsed.error, 'body'));
      body = parsed.data;
    }
    await handle({ req, res, params: params as Out<P>, query: query as Out<Q>, body: body as Out<B> });
  };
  return { spec: spec, handler };
}

/**
 * Refuses a request whose path parameters, query or JSON body hold a string
 * with U+0000 anywhere (keys included): no text value can hold it (Postgres
 * refuses it in text, and it truncates C strings), so it is a 400 naming
 * where it was, for every route, instead of each schema having to exclude it.
 * @throws ApiError 400 bad_request
 */
function refuseNulCharacters(req: Request): void {
  const where = (value: unknown, path: string, depth = 0): string | undefined => {
    if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
    if (depth > 32 || value === null || typeof value !== 'object') return undefined;
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      const name = Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`;
      if (key.includes('\u0000')) return path;
      const found = where(inner, name, depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  const found = where(req.params, 'path') ?? where(req.query, 'query') ?? where(req.body, 'body');
  if (found) throw badRequest(`${found.replace(/^(path|query|body)\./, '$1: ')}: holds a NUL character (U+0000), which no text value may hold`);
}

/** Mounts each route with its role guard; the order given is the match order. */
export function mountRoutes(router: Router, routes: readonly ApiRoute[]): void {
  for (const { spec, handler } of routes) {
    router[spec.method](spec.path, requireRole(spec.role), ...(spec.before ?? []), handler);
  }
}
