/**
 * The deployment spec: what the user writes (YAML or JSON, the same through the API, the CLI and the console), and
 * its compiled form with defaults applied and units normalised. The spec is backend-neutral: the local backend runs
 * it here, the Kubernetes and compose backends render it.
 *
 * ```yaml
 * name: fraud
 * spec:
 *   traffic:
 *     - { model: fraud@champion, weight: 90, tag: stable }
 *     - { model: fraud@4, weight: 10, tag: canary }
 *   shadow: { model: fraud@5, percent: 20 }
 *   sticky: { header: x-user-id }
 *   scaling: { minReplicas: 0, maxReplicas: 4, targetConcurrency: 8, scaleDownDelay: 30s, idleTimeout: 5m }
 *   runtime: { intraOpThreads: 1, batching: { maxBatchSize: 32, minBatchDelay: 2ms, maxQueueDelay: 2ms } }
 *   resources: { memory: 512Mi, cpu: 1 }
 *   env: { LOG_LEVEL: info }
 *   secrets: [{ env: API_TOKEN, secret: partner-token }]
 *   backend: local
 *   auth: token          # or open: inference without a token when the server's auth is on
 *   logging:             # the payload log (src/payloads): sampled calls, redacted, to the sinks
 *     sample: 100        # percent of calls
 *     mode: all          # or request, response
 *     redact: [email]    # tensor or friendly feature names whose values never reach a sink
 *     sinks:
 *       - { type: store, retention: { maxAge: 30d, maxSize: 10Gi } }
 *       - { type: cloudevents, url: https://events.example.com/ }
 * ```
 */
import { z } from 'zod';
import { ModelportError, parseDuration, parseModelRef, parseSize, reservedEnvReason } from '../core/index.ts';

const Duration = z.union([z.string(), z.number()]).describe("a duration such as '30s', '250ms' or milliseconds");
const Tag = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/, 'a tag is a lowercase letter followed by up to 30 letters, digits or -');

export const TrafficTargetSchema = z.strictObject({
  model: z.string().describe('model@version or model@alias (a bare name means the latest version)'),
  weight: z.number().int().min(0).max(100),
  tag: Tag.optional(),
});

export const LoggingSinkSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('store'),
    retention: z
      .strictObject({
        maxAge: Duration.optional().describe('records older than this are deleted (30d, 12h)'),
        maxSize: z.union([z.string(), z.number()]).optional().describe('the oldest files go beyond this size (10Gi)'),
      })
      .optional(),
  }),
  z.strictObject({
    type: z.literal('cloudevents'),
    url: z.string().max(2048).describe("KServe logger's CloudEvents (binary mode), POSTed to this http(s) URL"),
  }),
]);

export const LoggingSpecSchema = z.strictObject({
  sample: z
    .number()
    .min(0, 'sample is a percentage: 0 to 100')
    .max(100, 'sample is a percentage: 0 to 100')
    .default(100)
    .describe('percent of calls logged'),
  mode: z.enum(['all', 'request', 'response']).default('all').describe('which half of a call is kept'),
  sinks: z
    .array(LoggingSinkSchema)
    .min(1)
    .max(8)
    .default([{ type: 'store' }]),
  redact: z
    .array(z.string().min(1).max(256))
    .max(1000)
    .default([])
    .describe('input or output tensor names, or friendly feature names, whose values never reach a sink'),
});

export type LoggingSpec = z.output<typeof LoggingSpecSchema>;

export const DeploymentSpecSchema = z.strictObject({
  traffic: z.array(TrafficTargetSchema).min(1).max(10),
  shadow: z.strictObject({ model: z.string(), percent: z.number().min(0).max(100).default(100) }).optional(),
  sticky: z.strictObject({ header: z.string().regex(/^[a-z0-9-]{1,64}$/i) }).optional(),
  scaling: z
    .strictObject({
      minReplicas: z.number().int().min(0).max(64).default(1),
      maxReplicas: z.number().int().min(1).max(64).default(1),
      targetConcurrency: z.number().int().min(1).max(10_000).default(16),
      scaleDownDelay: Duration.default('30s'),
      idleTimeout: Duration.default('5m'),
    })
    .default({ minReplicas: 1, maxReplicas: 1, targetConcurrency: 16, scaleDownDelay: '30s', idleTimeout: '5m' }),
  runtime: z
    .strictObject({
      intraOpThreads: z.number().int().min(1).max(64).optional(),
      interOpThreads: z.number().int().min(1).max(64).optional(),
      graphOptimization: z.enum(['disabled', 'basic', 'extended', 'all']).optional(),
      batching: z
        .strictObject({
          maxBatchSize: z.number().int().min(1).max(65_536).optional(),
          minBatchDelay: Duration.optional(),
          maxQueueDelay: Duration.optional(),
          preferredBatchSizes: z.array(z.number().int().min(1)).optional(),
          maxQueueSize: z.number().int().min(1).max(1_000_000).optional(),
          timeout: Duration.optional(),
        })
        .optional(),
    })
    .default({}),
  resources: z
    .strictObject({
      memory: z.union([z.string(), z.number()]).optional(),
      cpu: z.union([z.string(), z.number()]).optional(),
      gpu: z.number().int().min(0).max(16).optional(),
    })
    .default({}),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(32_768)).default({}),
  secrets: z
    .array(z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), secret: z.string() }))
    .default([]),
  backend: z.enum(['local', 'kubernetes', 'compose']).default('local'),
  auth: z
    .enum(['token', 'open'])
    .optional()
    .describe(
      "Who may call inference when the server's auth is on: 'token' (default) needs a token with the editor role or one scoped to this deployment; 'open' takes calls without a token",
    ),
  logging: LoggingSpecSchema.optional().describe(
    'Payload logging: sampled calls (inputs, outputs, latency, caller) to the built-in store or CloudEvents',
  ),
});

/** A deployment document as written in a file for `modelport deployments apply -f`. */
export const DeploymentDocumentSchema = z.strictObject({
  apiVersion: z.literal('modelport/v1').optional(),
  kind: z.literal('Deployment').optional(),
  name: z.string(),
  spec: DeploymentSpecSchema,
});

export type DeploymentSpecInput = z.input<typeof DeploymentSpecSchema>;
export type DeploymentSpec = z.output<typeof DeploymentSpecSchema>;

export interface CompiledScaling {
  minReplicas: number;
  maxReplicas: number;
  targetConcurrency: number;
  scaleDownDelayMs: number;
  idleTimeoutMs: number;
}

/** Checks what the schema cannot: weights sum to 100, references parse, tags unique, units valid, min <= max. */
export function checkSpec(spec: DeploymentSpec): CompiledScaling {
  const total = spec.traffic.reduce((sum, t) => sum + t.weight, 0);
  if (total !== 100) {
    throw new ModelportError('invalid_request', `spec.traffic: weights add up to ${total}; they must add up to 100`, {
      field: 'spec.traffic',
    });
  }
  for (const [i, t] of spec.traffic.entries()) parseModelRef(t.model, `spec.traffic[${i}].model`);
  if (spec.shadow) parseModelRef(spec.shadow.model, 'spec.shadow.model');
  const tags = spec.traffic.flatMap((t) => (t.tag ? [t.tag] : []));
  const duplicate = tags.find((tag, i) => tags.indexOf(tag) !== i);
  if (duplicate) {
    throw new ModelportError('invalid_request', `spec.traffic: the tag '${duplicate}' is used twice`, {
      field: 'spec.traffic',
    });
  }
  const duration = (value: string | number, field: string) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      throw new ModelportError('invalid_request', `${field}: '${value}' is not a duration; use 30s, 250ms or 5m`, {
        field,
      });
    }
    return ms;
  };
  checkEnvNames(spec);
  const { scaling, runtime, resources } = spec;
  if (scaling.maxReplicas < scaling.minReplicas) {
    throw new ModelportError(
      'invalid_request',
      `spec.scaling.maxReplicas (${scaling.maxReplicas}) is below minReplicas (${scaling.minReplicas})`,
      { field: 'spec.scaling.maxReplicas' },
    );
  }
  if (runtime.batching?.maxQueueDelay !== undefined)
    duration(runtime.batching.maxQueueDelay, 'spec.runtime.batching.maxQueueDelay');
  if (runtime.batching?.minBatchDelay !== undefined) {
    const min = duration(runtime.batching.minBatchDelay, 'spec.runtime.batching.minBatchDelay');
    const max =
      runtime.batching.maxQueueDelay === undefined
        ? undefined
        : duration(runtime.batching.maxQueueDelay, 'spec.runtime.batching.maxQueueDelay');
    if (max !== undefined && min > max) {
      throw new ModelportError(
        'invalid_request',
        `spec.runtime.batching.minBatchDelay (${runtime.batching.minBatchDelay}) exceeds maxQueueDelay (${runtime.batching.maxQueueDelay}); raise maxQueueDelay too`,
        { field: 'spec.runtime.batching.minBatchDelay' },
      );
    }
  }
  if (runtime.batching?.timeout !== undefined) duration(runtime.batching.timeout, 'spec.runtime.batching.timeout');
  for (const [i, sink] of (spec.logging?.sinks ?? []).entries()) {
    const field = `spec.logging.sinks[${i}]`;
    if (sink.type === 'store') {
      if (sink.retention?.maxAge !== undefined) duration(sink.retention.maxAge, `${field}.retention.maxAge`);
      if (sink.retention?.maxSize !== undefined && parseSize(sink.retention.maxSize) === undefined) {
        throw new ModelportError(
          'invalid_request',
          `${field}.retention.maxSize: '${sink.retention.maxSize}' is not a size; use 512Mi or 10Gi`,
          { field: `${field}.retention.maxSize` },
        );
      }
    } else {
      let url: URL | undefined;
      try {
        url = new URL(sink.url);
      } catch {}
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
        throw new ModelportError('invalid_request', `${field}.url: '${sink.url}' is not an http(s) URL`, {
          field: `${field}.url`,
        });
      }
    }
  }
  if ((spec.logging?.sinks ?? []).filter((s) => s.type === 'store').length > 1) {
    throw new ModelportError('invalid_request', 'spec.logging.sinks: list the store sink once', {
      field: 'spec.logging.sinks',
    });
  }
  if (resources.memory !== undefined && parseSize(resources.memory) === undefined) {
    throw new ModelportError(
      'invalid_request',
      `spec.resources.memory: '${resources.memory}' is not a size; use 512Mi or 2Gi`,
      {
        field: 'spec.resources.memory',
      },
    );
  }
  return {
    minReplicas: scaling.minReplicas,
    maxReplicas: scaling.maxReplicas,
    targetConcurrency: scaling.targetConcurrency,
    scaleDownDelayMs: duration(scaling.scaleDownDelay, 'spec.scaling.scaleDownDelay'),
    idleTimeoutMs: duration(scaling.idleTimeout, 'spec.scaling.idleTimeout'),
  };
}

/**
 * Refuses environment names that would let a deployment take over its worker (`NODE_OPTIONS`, `LD_PRELOAD`,
 * proxies, Modelport's own: the list is `RESERVED_ENV` in src/core/env-policy.ts), and one name set twice.
 */
function checkEnvNames(spec: DeploymentSpec): void {
  const refuse = (name: string, field: string) => {
    const reason = reservedEnvReason(name);
    if (reason === undefined) return;
    throw new ModelportError(
      'invalid_request',
      `${field}: ${name} may not be set by a deployment (${reason}); remove it or use another name`,
      { field },
    );
  };
  for (const name of Object.keys(spec.env)) refuse(name, `spec.env.${name}`);
  const seen = new Set(Object.keys(spec.env));
  for (const [i, ref] of spec.secrets.entries()) {
    const field = `spec.secrets[${i}].env`;
    refuse(ref.env, field);
    if (seen.has(ref.env)) {
      throw new ModelportError('invalid_request', `${field}: ${ref.env} is already set; give it one value only`, {
        field,
      });
    }
    seen.add(ref.env);
  }
}

/** Parses and checks a spec from any JSON value; errors name the field (`spec.traffic[1].weight`). */
export function parseSpec(value: unknown): DeploymentSpec {
  const result = DeploymentSpecSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
    const field = issue.code === 'unrecognized_keys' ? `spec${path}.${issue.keys[0]}` : `spec${path}`;
    throw new ModelportError(
      issue.code === 'unrecognized_keys' ? 'unknown_field' : 'invalid_request',
      `${field}: ${issue.message}`,
      {
        field,
      },
    );
  }
  checkSpec(result.data);
  return result.data;
}
