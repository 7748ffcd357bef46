/**
 * A control-plane route: method, path, the permission it needs, the schemas that validate its input (and document
 * it in OpenAPI), and a handler. Every route is declared through `route()` in one table per concept; a route
 * without a permission does not type-check, and the router refuses one at build time as well.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';

import type { Permission, Principal } from '../auth/index.ts';

export type { Permission, Principal };
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  principal: Principal;
  /**
   * Checks a further permission on the route's project (or server-wide when the route has none), for what the
   * route's own permission cannot tell before the body is read: registering a js model needs `code`.
   */
  require(permission: Permission): void;
  req: IncomingMessage;
  res: ServerResponse;
  signal: AbortSignal;
}

/**
 * A body the handler reads itself (uploads, or JSON that must not be quoted in errors), documented as this media
 * type; `schema`, when given, documents its JSON shape and types it for the client without the router parsing it.
 */
export interface StreamBody {
  stream: string;
  schema?: z.ZodType;
}

/**
 * What a route answers with, declared on every route: a zod schema for a JSON body (the handler's result is checked
 * against it, and OpenAPI and the client's types come from it), `'empty'` for no body (204 unless `status` says
 * otherwise), or `'stream'` when the handler writes the response itself (downloads).
 */
export type ResponseSpec = z.ZodType | 'empty' | 'stream';

export interface RouteDef<
  Id extends string = string,
  M extends Method = Method,
  Path extends string = string,
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType | StreamBody | undefined = undefined,
  R extends ResponseSpec = ResponseSpec,
> {
  /** The operation's stable name, unique in the API: the OpenAPI operationId and the client's key (`listModels`). */
  id: Id;
  method: M;
  /** Relative to /api/v1, with `:name` parameters: `/projects/:project/models/:model`. */
  path: Path;
  permission: Permission;
  /** A further permission some calls need, documented in the permissions table: `{ permission: 'code', when: 'js models' }`. */
  alsoNeeds?: { permission: Permission; when: string };
  summary: string;
  tag: string;
  params?: P;
  query?: Q;
  body?: B;
  response: R;
  /** Success status, 200 unless given (204 for an `'empty'` response). */
  status?: number;
  /**
   * What the audit log records beyond the route, project and path names (mutating routes are always recorded):
   * the object when the path does not name it (a create's body), and `detail` such as a spec before and after.
   * Never return a secret's value from these. Methods, like `handler`, so a route stays an `AnyRoute`.
   */
  audit?: {
    object?(ctx: RouteContext<z.output<P>, z.output<Q>, B extends z.ZodType ? z.output<B> : undefined>): string;
    /** Read before the handler runs (the spec before a change); handed to `detail`. */
    before?(
      ctx: RouteContext<z.output<P>, z.output<Q>, B extends z.ZodType ? z.output<B> : undefined>,
    ): Promise<unknown>;
    detail?(
      ctx: RouteContext<z.output<P>, z.output<Q>, B extends z.ZodType ? z.output<B> : undefined>,
      before: unknown,
      result: unknown,
    ): Record<string, unknown>;
  };
  /**
   * Returns the JSON its response schema accepts as input, or nothing for an empty or streamed response. A method,
   * so that a route with narrow schemas is still an `AnyRoute` for the router.
   */
  handler(
    ctx: RouteContext<z.output<P>, z.output<Q>, B extends z.ZodType ? z.output<B> : undefined>,
  ): R extends z.ZodType ? Promise<z.input<R>> : Promise<void>;
}

/** Any route, as the router and the OpenAPI builder see it. */
export type AnyRoute = RouteDef<string, Method, string, z.ZodType, z.ZodType, z.ZodType | StreamBody | undefined>;

/**
 * Declares a route with its types inferred from its schemas. The result keeps its literal id, method and path, so
 * the route tables' types are the API contract the client derives from (src/api/contract.ts).
 */
export function route<
  const Id extends string,
  const M extends Method,
  const Path extends string,
  P extends z.ZodType = z.ZodObject<Record<string, never>>,
  Q extends z.ZodType = z.ZodObject<Record<string, never>>,
  B extends z.ZodType | StreamBody | undefined = undefined,
  R extends ResponseSpec = ResponseSpec,
>(def: RouteDef<Id, M, Path, P, Q, B, R>): RouteDef<Id, M, Path, P, Q, B, R> {
  return def;
}

/** A query parameter that may repeat (`?tag=a=1&tag=b=2`); always an array after parsing. */
export const repeated = <T extends z.ZodType>(item: T) =>
  z.preprocess((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]), z.array(item));

export function isStreamBody(body: unknown): body is StreamBody {
  return typeof body === 'object' && body !== null && 'stream' in body;
}
