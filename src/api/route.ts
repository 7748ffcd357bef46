/**
 * A control-plane route: method, path, the permission it needs, the schemas that validate its input (and document
 * it in OpenAPI), and a handler. Every route is declared through `route()` in one table per concept; a route
 * without a permission does not type-check, and the router refuses one at build time as well.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';

export type Permission = 'read' | 'write' | 'admin';
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Who is calling; the security work adds tokens and roles behind the same shape. */
export interface Principal {
  subject: string;
  /** Projects this principal may act on; '*' for all. */
  projects: readonly string[] | '*';
  permissions: ReadonlySet<Permission>;
}

export interface RouteContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  principal: Principal;
  req: IncomingMessage;
  res: ServerResponse;
  signal: AbortSignal;
}

/** A body the handler reads itself (uploads), documented as this media type. */
export interface StreamBody {
  stream: string;
}

/** What a handler returns: a JSON body (sent with `status`), or `undefined` when it wrote the response itself. */
export type HandlerResult = unknown;

export interface RouteDef<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType | StreamBody | undefined = undefined,
> {
  method: Method;
  /** Relative to /api/v1, with `:name` parameters: `/projects/:project/models/:model`. */
  path: string;
  permission: Permission;
  summary: string;
  tag: string;
  params?: P;
  query?: Q;
  body?: B;
  /** Documents the success body in OpenAPI. */
  response?: z.ZodType;
  /** Success status, 200 unless given. */
  status?: number;
  handler: (
    ctx: RouteContext<z.output<P>, z.output<Q>, B extends z.ZodType ? z.output<B> : undefined>,
  ) => Promise<HandlerResult>;
}

/** Any route, as the router and the OpenAPI builder see it. */
export type AnyRoute = RouteDef<z.ZodType, z.ZodType, z.ZodType | StreamBody | undefined>;

/** Declares a route with its types inferred from its schemas. */
export function route<
  P extends z.ZodType = z.ZodObject<Record<string, never>>,
  Q extends z.ZodType = z.ZodObject<Record<string, never>>,
  B extends z.ZodType | StreamBody | undefined = undefined,
>(def: RouteDef<P, Q, B>): AnyRoute {
  return def as unknown as AnyRoute;
}

/** A query parameter that may repeat (`?tag=a=1&tag=b=2`); always an array after parsing. */
export const repeated = <T extends z.ZodType>(item: T) =>
  z.preprocess((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]), z.array(item));

export function isStreamBody(body: unknown): body is StreamBody {
  return typeof body === 'object' && body !== null && 'stream' in body;
}
