/**
 * The control-plane router: matches /api/v1 requests to the route table, authorises, validates params, query and
 * body with the route's schemas, runs the handler and writes the JSON answer or the one error shape.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { AuditEvent, AuditPrincipal } from '../audit/index.ts';
import { ROUTE_PERMISSIONS } from '../auth/index.ts';
import { ModelportError, toModelportError } from '../core/index.ts';
import { parseJson, readBody, sendError, sendJson } from '../http/index.ts';
import { type Logger, requestId } from '../logging/index.ts';
import type { Authorizer } from './authorizer.ts';
import { type AnyRoute, isStreamBody, type Method, type Permission, type Principal } from './route.ts';

interface CompiledRoute {
  def: AnyRoute;
  pattern: RegExp;
  keys: string[];
}

export interface RouterOptions {
  authorizer: Authorizer;
  /** Largest JSON body a route accepts (uploads set their own limit). */
  maxJsonBytes: number;
  /** Unexpected (`internal`) errors are logged here with their stack and the request id. */
  log: Logger;
  /** Receives every mutating call and every denied one (src/audit); resolves once stored, never rejects. */
  audit?: { record(event: AuditEvent): Promise<void> };
}

/** What the audit needs to know of a call as it runs. */
interface Trail {
  principal: AuditPrincipal | undefined;
  ctx: unknown;
  before: unknown;
}

export type ApiHandler = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void>;

export function compileRoutes(routes: readonly AnyRoute[]): CompiledRoute[] {
  const seen = new Set<string>();
  const ids = new Set<string>();
  return routes.map((def) => {
    if (!ROUTE_PERMISSIONS.includes(def.permission)) {
      throw new Error(`route ${def.method} ${def.path} declares no permission; every route needs one`);
    }
    const id = `${def.method} ${def.path}`;
    if (seen.has(id)) throw new Error(`route ${id} is declared twice`);
    seen.add(id);
    if (!/^[a-z][A-Za-z0-9]*$/.test(def.id ?? '')) {
      throw new Error(`route ${id} needs an operation id in camelCase, such as listModels`);
    }
    if (ids.has(def.id)) throw new Error(`operation id ${def.id} is used by two routes`);
    ids.add(def.id);
    const keys: string[] = [];
    const source = def.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:([a-zA-Z]+)/g, (_, key: string) => {
      keys.push(key);
      return '([^/]+)';
    });
    return { def, pattern: new RegExp(`^${source}/?$`), keys };
  });
}

/** Builds the request handler for paths below /api/v1 (`path` is what follows the prefix, query excluded). */
export function createRouter(routes: readonly AnyRoute[], options: RouterOptions): ApiHandler {
  const compiled = compileRoutes(routes);

  return async (req, res, path) => {
    let audited = false;
    try {
      // Identify the caller before matching: without a principal even a wrong path or method is a 401, so the
      // route table cannot be probed anonymously.
      const principal = await options.authorizer.authenticate(req);
      let methodMismatch = false;
      for (const route of compiled) {
        const match = route.pattern.exec(path);
        if (!match) continue;
        if (route.def.method !== (req.method as Method)) {
          methodMismatch = true;
          continue;
        }
        const rawParams: Record<string, string> = {};
        route.keys.forEach((key, i) => {
          rawParams[key] = safeDecode(match[i + 1] ?? '', key);
        });
        const trail: Trail = { principal, ctx: undefined, before: undefined };
        try {
          await run(route.def, rawParams, principal, req, res, options, trail);
        } catch (error) {
          audited = true;
          await auditFailure(route.def, rawParams, trail, error, options);
          throw error;
        }
        return;
      }
      throw methodMismatch
        ? new ModelportError('method_not_allowed', `${req.method} is not allowed on this route`)
        : new ModelportError('not_found', `no API route matches ${req.method} /api/v1${path}`);
    } catch (error) {
      // A caller refused before any route matched (identified first, so the table cannot be probed anonymously).
      if (!audited) await auditUnmatchedDenial(req.method ?? 'GET', error, options);
      sendError(res, error, 'api', (err) =>
        options.log.child({ requestId: requestId(req.headers) }).error(`${req.method} /api/v1${path} failed`, { err }),
      );
    }
  };
}

async function auditUnmatchedDenial(method: string, error: unknown, options: RouterOptions): Promise<void> {
  const e = toModelportError(error);
  if (options.audit === undefined || (e.code !== 'unauthenticated' && e.code !== 'forbidden')) return;
  // The raw path is the caller's text: the row names no route rather than store it.
  await options.audit.record({
    principal: undefined,
    method,
    route: '(no route)',
    status: e.httpStatus,
    errorCode: e.code,
  });
}

async function run(
  def: AnyRoute,
  rawParams: Record<string, string>,
  principal: Principal,
  req: IncomingMessage,
  res: ServerResponse,
  options: RouterOptions,
  trail: Trail,
) {
  trail.principal = principal;
  const project = rawParams['project'];
  options.authorizer.authorize(principal, def.permission, project);
  const require = (permission: Permission) => options.authorizer.authorize(principal, permission, project);

  const params = validate(def.params, rawParams, 'path');
  const query = validate(def.query, parseQuery(req.url ?? ''), 'query');
  let body: unknown;
  if (def.body !== undefined && !isStreamBody(def.body)) {
    const type = req.headers['content-type'] ?? 'application/json';
    if (!type.startsWith('application/json')) {
      throw new ModelportError('unsupported_media_type', `send the body as application/json, not ${type}`);
    }
    const raw = await readBody(req, options.maxJsonBytes);
    body = validate(def.body, parseJson(raw.length === 0 ? '{}' : raw), 'body');
  }

  const controller = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) controller.abort();
  };
  res.once('close', onClose);
  const ctx = { params, query, body, principal, require, req, res, signal: controller.signal };
  trail.ctx = ctx;
  const audited = options.audit !== undefined && def.method !== 'GET';
  if (audited && def.audit?.before) trail.before = await def.audit.before(ctx as never);
  const result = await def.handler(ctx as never);
  res.off('close', onClose);
  // Written before the answer, so a 2xx means the row is stored.
  if (audited) {
    const status = res.headersSent ? res.statusCode : (def.status ?? (result === undefined ? 204 : 200));
    await options.audit?.record({
      ...auditWhat(def, rawParams, trail),
      status,
      detail: def.audit?.detail?.(ctx as never, trail.before, result),
    });
  }
  if (result !== undefined && !res.headersSent) sendJson(res, def.status ?? 200, result);
  else if (result === undefined && !res.headersSent) {
    res.writeHead(def.status ?? 204);
    res.end();
  }
}

/** Who and what, for the audit log: the route pattern (never the raw path), the project, the object named. */
function auditWhat(def: AnyRoute, rawParams: Record<string, string>, trail: Trail) {
  const named = Object.entries(rawParams)
    .filter(([key]) => key !== 'project')
    .map(([, value]) => value);
  let object = named.length > 0 ? named.join('/') : undefined;
  if (trail.ctx !== undefined && def.audit?.object) {
    try {
      object = def.audit.object(trail.ctx as never);
    } catch {
      // The object is a courtesy; the row is written without it.
    }
  }
  return { principal: trail.principal, method: def.method, route: def.path, project: rawParams['project'], object };
}

/** A failed mutation, or any call refused for its credentials (401/403, reads included). */
async function auditFailure(
  def: AnyRoute,
  rawParams: Record<string, string>,
  trail: Trail,
  error: unknown,
  options: RouterOptions,
): Promise<void> {
  if (options.audit === undefined) return;
  const e = toModelportError(error);
  const denied = e.code === 'unauthenticated' || e.code === 'forbidden';
  if (def.method === 'GET' && !denied) return;
  await options.audit.record({ ...auditWhat(def, rawParams, trail), status: e.httpStatus, errorCode: e.code });
}

function safeDecode(value: string, key: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new ModelportError('invalid_request', `path parameter '${key}' is not valid percent-encoding`, {
      field: key,
    });
  }
}

/** Query string to an object; a key given twice becomes an array. */
export function parseQuery(url: string): Record<string, string | string[]> {
  const index = url.indexOf('?');
  const out: Record<string, string | string[]> = {};
  if (index < 0) return out;
  for (const [key, value] of new URLSearchParams(url.slice(index + 1))) {
    const existing = out[key];
    out[key] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return out;
}

/** Validates with a zod schema; the first issue becomes an error naming the field (`body.tags.owner`). */
export function validate(schema: z.ZodType | undefined, value: unknown, where: 'path' | 'query' | 'body'): unknown {
  if (schema === undefined) return value;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  if (issue.code === 'unrecognized_keys') {
    const field = `${where}${path}.${issue.keys[0]}`;
    return fail('unknown_field', field, `unknown field '${issue.keys[0]}'; remove it or check its spelling`);
  }
  const field = `${where}${path}`;
  return fail('invalid_request', field, issue.message);
}

function fail(code: 'invalid_request' | 'unknown_field', field: string, message: string): never {
  throw new ModelportError(code, `${field}: ${message}`, { field });
}
