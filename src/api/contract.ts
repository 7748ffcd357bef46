/**
 * The control-plane API as types, derived from the route tables: for every operation (a route's `id`), its method
 * and path, and what its params, query, body and response are, from the route's zod schemas. The client imports
 * only these types (erased when it is built), never the server's code; OpenAPI is built from the same schemas.
 */
import type { z } from 'zod';
import type { StreamBody } from './route.ts';
import type { auditRoutes } from './routes/audit.ts';
import type { authRoutes } from './routes/auth.ts';
import type { dataRoutes } from './routes/data.ts';
import type { deploymentMetricsRoutes } from './routes/deployment-metrics.ts';
import type { deploymentRoutes } from './routes/deployments.ts';
import type { driftRoutes } from './routes/drift.ts';
import type { jobRoutes } from './routes/jobs.ts';
import type { lineageRoutes } from './routes/lineage.ts';
import type { modelRoutes } from './routes/models.ts';
import type { modelTypeRoutes } from './routes/modeltypes.ts';
import type { payloadRoutes } from './routes/payloads.ts';
import type { pipelineRoutes } from './routes/pipelines.ts';
import type { scanRoutes } from './routes/scans.ts';
import type { secretRoutes } from './routes/secrets.ts';
import type { systemRoutes } from './routes/system.ts';

/** Every route table the server mounts (src/api/routes/index.ts); a new table is listed here too. */
type RouteTable =
  | typeof systemRoutes
  | typeof modelRoutes
  | typeof deploymentRoutes
  | typeof deploymentMetricsRoutes
  | typeof driftRoutes
  | typeof secretRoutes
  | typeof modelTypeRoutes
  | typeof jobRoutes
  | typeof auditRoutes
  | typeof dataRoutes
  | typeof pipelineRoutes
  | typeof lineageRoutes
  | typeof payloadRoutes
  | typeof scanRoutes
  | typeof authRoutes;

export type ApiRoute = ReturnType<RouteTable>[number];
export type OperationId = ApiRoute['id'];
export type Operation<K extends OperationId> = Extract<ApiRoute, { id: K }>;

/** `METHOD /path` of an operation, as the client's operation table writes it. */
export type OperationLine<K extends OperationId> = `${Operation<K>['method']} ${Operation<K>['path']}`;

type InputOf<S> = S extends z.ZodType ? z.input<S> : never;
type NoneIfNever<T> = [T] extends [never] ? undefined : T;

/** The path parameters, as sent (`{ project, model }`). */
export type ApiParams<K extends OperationId> = NoneIfNever<InputOf<Operation<K>['params']>>;
/** The query parameters, as sent. */
export type ApiQuery<K extends OperationId> = NoneIfNever<InputOf<Operation<K>['query']>>;
/** The JSON body, as sent; `undefined` for routes without one or with a binary upload. */
export type ApiBody<K extends OperationId> = NoneIfNever<BodyOf<Operation<K>['body']>>;
type BodyOf<B> = B extends z.ZodType
  ? z.input<B>
  : B extends StreamBody & { schema: infer S extends z.ZodType }
    ? z.input<S>
    : never;

/**
 * The JSON the operation answers with; `undefined` for an empty or streamed answer. A response schema describes the
 * object as the server sends it, so a default in it (a deployment's spec) is a value the server always fills.
 */
export type ApiResponse<K extends OperationId> = Operation<K>['response'] extends infer R
  ? R extends z.ZodType
    ? z.output<R>
    : undefined
  : never;
