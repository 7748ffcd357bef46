/**
 * The one data-plane service every transport calls. REST (V2 JSON and binary, V1, Seldon) and gRPC handlers
 * decode into these types, call it, and encode the answer: no protocol decides routing, batching or errors.
 */
import { randomUUID } from 'node:crypto';
import type { InferRequest, InferResponse, ModelSignature } from '../core/index.ts';
import type { FriendlySignature } from '../signatures/index.ts';

export type Protocol = 'v2-json' | 'v2-binary' | 'grpc' | 'v1' | 'seldon';

export interface InferContext {
  protocol: Protocol;
  /** Aborted when the client goes away or its deadline passes; queued work is dropped, never run late. */
  signal?: AbortSignal;
  /** Absolute deadline in ms since the epoch (from grpc-timeout or a server default). */
  deadline?: number;
  /** Lower-cased request headers (or gRPC metadata), for routing (`model-id`) and sticky traffic splits. */
  headers?: Readonly<Record<string, string | undefined>>;
  /** The call's id (`requestIdFor`), set by the transport, which returns it as `modelport-request-id`. */
  requestId?: string;
}

/** The header (and gRPC trailer) every inference answer carries: the id its payload record is logged under. */
export const REQUEST_ID_HEADER = 'modelport-request-id';

const SAFE_ID = /^[\w.:@/+=-]{1,128}$/;

/** A call's id: the V2 request `id`, else the client's `x-request-id`, when header-safe; else a fresh UUID. */
export function requestIdFor(id: string | undefined, headers: InferContext['headers'] | undefined): string {
  if (id !== undefined && SAFE_ID.test(id)) return id;
  const given = headers?.['x-request-id'];
  return typeof given === 'string' && SAFE_ID.test(given) ? given : randomUUID();
}

/** V2 model metadata (GET /v2/models/{name}). */
export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
  parameters?: Record<string, unknown>;
}

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

/** What a transport needs to know about a resolved model to decode and validate a request. */
export interface ResolvedModel {
  name: string;
  version: string;
  signature: ModelSignature;
  /** Named features and output labels, when the version has a friendly signature (V1 decodes rows by name). */
  friendly?: FriendlySignature;
}

export interface InferenceService {
  live(): boolean;
  ready(): boolean;
  serverMetadata(): ServerMetadata;
  /** Resolves `name` (`fraud`, `fraud@champion`, `fraud@3`) and an optional explicit version; throws not_found. */
  resolve(name: string, version?: string): Promise<ResolvedModel>;
  modelReady(name: string, version?: string): Promise<boolean>;
  /**
   * Cheap admission before a request's body is read: throws `overloaded` (429, Retry-After) when the model's queue
   * is full, `not_ready` when the server is shutting down, `not_found` for an unknown name. Optional: a service
   * without it admits everything and refuses later, in `infer`.
   */
  admit?(name: string, version: string | undefined, context: Pick<InferContext, 'headers'>): Promise<void>;
  modelMetadata(name: string, version?: string): Promise<ModelMetadata>;
  infer(
    name: string,
    version: string | undefined,
    request: InferRequest,
    context: InferContext,
  ): Promise<InferResponse>;
}
