/**
 * Every error Modelport raises on purpose is a `ModelportError` with a stable `code` from `ERROR_CODES`.
 *
 * Domain code picks a code, never a transport status: the catalogue below is the one table that maps each
 * code to its HTTP status and gRPC status, and docs/errors.md is generated from it (a test checks the drift).
 */

/** gRPC status codes used by the catalogue (numeric values from grpc/status.proto). */
export const GrpcStatus = {
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

export interface ErrorCodeInfo {
  readonly http: number;
  readonly grpc: number;
  /** One line for docs/errors.md: when it happens and what to do. */
  readonly summary: string;
}

export const ERROR_CODES = {
  invalid_request: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    summary: 'The request is malformed or a field fails validation; `field` names it. Fix the field and retry.',
  },
  invalid_json: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    summary: 'The body is not valid JSON (or nests deeper than 100 levels). Send a well-formed JSON document.',
  },
  unknown_field: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    summary: 'The body has a field the API does not know; `field` names it. Remove it or check its spelling.',
  },
  invalid_model: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    summary: 'The uploaded file is not a model ONNX Runtime can load. Nothing was stored. Export a valid ONNX file.',
  },
  invalid_input: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    summary: "An inference input does not match the model's signature (name, datatype, shape or data length).",
  },
  invalid_config: {
    http: 400,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    summary: 'A setting (flag or environment variable) has a wrong value; the message names it and the fix.',
  },
  unauthenticated: {
    http: 401,
    grpc: GrpcStatus.UNAUTHENTICATED,
    summary:
      'No valid token was sent (missing, malformed, unknown, revoked or expired). Send `Authorization: Bearer <token>` (gRPC: `authorization` metadata); the CLI reads MODELPORT_TOKEN, --token or `modelport login`.',
  },
  forbidden: {
    http: 403,
    grpc: GrpcStatus.PERMISSION_DENIED,
    summary:
      'The token is valid but its user lacks the role this call needs; the message names the role and project. Ask a project admin for it (`modelport members add`).',
  },
  csrf_failed: {
    http: 403,
    grpc: GrpcStatus.PERMISSION_DENIED,
    summary:
      "A request signed in by the console's session cookie changes something but lacks the session's `x-modelport-csrf` header, or comes from another site (its Origin). Reload the console; programs send a token instead of the cookie.",
  },
  host_not_allowed: {
    http: 421,
    grpc: GrpcStatus.PERMISSION_DENIED,
    summary:
      'The Host header names a host this server does not answer to (a guard against DNS rebinding). Loopback names and IP addresses are always allowed; add other names with --allowed-hosts / MODELPORT_ALLOWED_HOSTS.',
  },
  not_found: {
    http: 404,
    grpc: GrpcStatus.NOT_FOUND,
    summary: 'The named project, model, version, alias or route does not exist.',
  },
  method_not_allowed: {
    http: 405,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    summary: 'The route exists but not with this HTTP method.',
  },
  conflict: {
    http: 409,
    grpc: GrpcStatus.FAILED_PRECONDITION,
    summary: 'The change conflicts with the current state (for example a version still used by a deployment).',
  },
  policy_refused: {
    http: 409,
    grpc: GrpcStatus.FAILED_PRECONDITION,
    summary:
      "A policy refused the change (a deployment's promotionPolicy); `details` has the rule, the failed clauses and every value read.",
  },
  already_exists: {
    http: 409,
    grpc: GrpcStatus.ALREADY_EXISTS,
    summary: 'An object with this name already exists.',
  },
  payload_too_large: {
    http: 413,
    grpc: GrpcStatus.RESOURCE_EXHAUSTED,
    summary: 'The body is larger than the configured limit. Send a smaller body or raise the limit.',
  },
  unsupported_media_type: {
    http: 415,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    summary: 'The Content-Type is not one this route accepts.',
  },
  overloaded: {
    http: 429,
    grpc: GrpcStatus.RESOURCE_EXHAUSTED,
    summary: 'The queue for this model is full. Retry after the Retry-After header.',
  },
  rate_limited: {
    http: 429,
    grpc: GrpcStatus.RESOURCE_EXHAUSTED,
    summary: 'The token sent more requests per second than its rate limit. Retry after the Retry-After header.',
  },
  not_ready: {
    http: 503,
    grpc: GrpcStatus.UNAVAILABLE,
    summary: 'The model or server is not ready (loading, starting a worker, or shutting down). Retry shortly.',
  },
  request_timeout: {
    http: 408,
    grpc: GrpcStatus.DEADLINE_EXCEEDED,
    summary:
      "The client did not send the request (headers and body) within the server's limit (--body-timeout, --upload-timeout); the connection is closed. Send the body faster or raise the limit.",
  },
  timeout: {
    http: 504,
    grpc: GrpcStatus.DEADLINE_EXCEEDED,
    summary: 'The request did not finish within its deadline.',
  },
  upstream_unreachable: {
    http: 502,
    grpc: GrpcStatus.UNAVAILABLE,
    summary:
      "The compose gateway could not reach the serving service a route points to (connection refused, name not resolved, reset). Check that the bundle's services are up: `docker compose ps`.",
  },
  upstream_timeout: {
    http: 504,
    grpc: GrpcStatus.DEADLINE_EXCEEDED,
    summary:
      "A serving service behind the compose gateway did not start its answer within the gateway's timeout (`--timeout`, default 60 s).",
  },
  worker_failed: {
    http: 503,
    grpc: GrpcStatus.UNAVAILABLE,
    summary:
      'The worker process running the model crashed during this request (an inference is first retried once on another worker); it is being restarted. Retry after the Retry-After header.',
  },
  artifact_corrupt: {
    http: 500,
    grpc: GrpcStatus.INTERNAL,
    summary: 'A stored artifact does not match its sha256. It is never served; re-register the model.',
  },
  secret_unreadable: {
    http: 500,
    grpc: GrpcStatus.INTERNAL,
    summary:
      "A stored secret cannot be decrypted: the server's key (MODELPORT_SECRET_KEY or the key file) is not the one it was written with, or the row was altered. Restore the key, or set the secret again.",
  },
  egress_refused: {
    http: 403,
    grpc: GrpcStatus.PERMISSION_DENIED,
    summary:
      'An outbound URL is refused: not http(s), carries user:password, or reaches a loopback, private, link-local or metadata address (directly, via DNS or a redirect). An administrator can allow the host with MODELPORT_EGRESS_ALLOW_HOSTS.',
  },
  not_configured: {
    http: 501,
    grpc: GrpcStatus.FAILED_PRECONDITION,
    summary:
      'The request needs a server setting that is not there (S3 credentials or endpoint for an s3:// URL); the message names what to configure where the server runs.',
  },
  internal: {
    http: 500,
    grpc: GrpcStatus.INTERNAL,
    summary: 'An unexpected error. The server log has the details; the response never does.',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ModelportErrorOptions {
  /** The request field, setting or input at fault, as a dotted path (`spec.traffic[0].weight`). */
  field?: string;
  /** Seconds a client should wait before retrying (sent as Retry-After). */
  retryAfter?: number;
  /** Machine-readable facts about the error, sent as `details` (a refused policy's rule and values). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class ModelportError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly retryAfter: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: ModelportErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ModelportError';
    this.code = code;
    this.field = options.field;
    this.retryAfter = options.retryAfter;
    this.details = options.details;
  }

  /**
   * The same error without a stack trace, for refusals on the hot path: a full queue under overload refuses
   * thousands of requests a second, capturing each one's stack took 5% of the gateway's time, and it says nothing.
   */
  static withoutStack(code: ErrorCode, message: string, options: ModelportErrorOptions = {}): ModelportError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return new ModelportError(code, message, options);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  get grpcStatus(): number {
    return ERROR_CODES[this.code].grpc;
  }

  /** The one JSON error shape of the control-plane API. */
  toJSON(): { code: ErrorCode; message: string; field?: string; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      ...(this.field === undefined ? {} : { field: this.field }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

/** Anything thrown becomes a ModelportError; unknown errors become `internal` with a message that leaks nothing. */
export function toModelportError(error: unknown): ModelportError {
  if (error instanceof ModelportError) return error;
  return new ModelportError('internal', 'internal error', { cause: error });
}

export const notFound = (what: string, field?: string) =>
  new ModelportError('not_found', `${what} not found`, field === undefined ? {} : { field });

export const invalid = (field: string, message: string) =>
  new ModelportError('invalid_request', `${field}: ${message}`, { field });
