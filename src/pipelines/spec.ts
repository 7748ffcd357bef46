/**
 * The pipeline spec: what the user writes (YAML for `modelport pipelines apply -f`, the same JSON through the API),
 * and `compilePipelineSpec`, which checks everything that needs no store (the DAG, cron, CEL, durations, globs) and
 * names the field of the first mistake. What needs the stores (secrets and repositories that must exist) is checked
 * by the service at apply.
 *
 * ```yaml
 * name: fraud-train
 * trigger:
 *   data: { repo: transactions, branch: main, glob: "*.csv" }
 * concurrency: { limit: 1, policy: queue }
 * steps:
 *   - name: train
 *     train: node train.ts --data "$MODELPORT_INPUT/transactions.csv" --out "$MODELPORT_OUTPUT"
 *   - name: gate
 *     needs: [train]
 *     gate: "metrics.auc >= 0.95 && metrics.recall >= 0.7"
 * ```
 */
import { matchesGlob } from 'node:path';
import { Cron } from 'croner';
import { z } from 'zod';
import { checkAlias, checkName, ModelportError, parseDuration, parseSize } from '../core/index.ts';
import { checkNotify, NotifySchema } from '../notify/index.ts';
import { compilePolicy, type PolicyVariable } from '../policy/index.ts';
import { topologicalOrder } from './dag.ts';

const Duration = z.union([z.string(), z.number()]).describe("a duration such as '30s', '5m' or milliseconds");
const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name ([A-Za-z_][A-Za-z0-9_]*)');
const Env = z.record(EnvName, z.string().max(32_768));
const SecretRefs = z.array(z.strictObject({ env: EnvName, secret: z.string() })).max(64);
const Resources = z.strictObject({
  memory: z.union([z.string(), z.number()]).optional(),
  cpu: z.union([z.string(), z.number()]).optional(),
});
const Command = z.string().min(1).max(16_384);

const EvaluateSchema = z.strictObject({
  /** A file of the triggering commit (a held-out set), CSV with a header. */
  data: z.string().min(1).max(1024),
  /** The column holding the truth. */
  label: z.string().min(1).max(256),
  /** The candidate: a file among the outputs of the steps before (default model.onnx). */
  model: z.string().min(1).max(1024).default('model.onnx'),
  task: z.enum(['classification', 'regression']).default('classification'),
  /** Probability above which a row is predicted positive (classification, default 0.5). */
  threshold: z.number().min(0).max(1).default(0.5),
});

const RegisterSchema = z.strictObject({
  model: z.string(),
  file: z.string().min(1).max(1024).default('model.onnx'),
  alias: z.string().optional(),
  format: z.enum(['onnx', 'js']).default('onnx'),
  description: z.string().max(4096).optional(),
});

const DeploySchema = z.strictObject({
  deployment: z.string(),
  /** The model version to deploy; default: the version the `register` step before made. */
  model: z.string().optional(),
  canary: z
    .strictObject({
      weight: z.number().int().min(1).max(99),
      /** CEL over `canary` (its live numbers after the soak: requests, errors, error_rate, p99_ms), `metrics`. */
      promote: z.string(),
      after: Duration.default('5m'),
    })
    .optional(),
  /** How long to wait for Ready (default 5m). */
  timeout: Duration.default('5m'),
});

export const StepSchema = z.strictObject({
  name: z.string(),
  needs: z.array(z.string()).max(64).default([]),
  /** `success` (default): runs when every step it needs succeeded; `always`: also after a failure or a block. */
  when: z.enum(['success', 'always']).default('success'),
  timeout: Duration.default('1h'),
  retries: z
    .union([
      z.number().int().min(0).max(10),
      z.strictObject({ count: z.number().int().min(0).max(10), backoff: Duration.default('5s') }),
    ])
    .default(0),
  /** Safe to run again from scratch: a server restart re-runs it once instead of failing the run. */
  idempotent: z.boolean().default(false),
  env: Env.default({}),
  secrets: SecretRefs.default([]),
  resources: Resources.default({}),
  /** Container image on Kubernetes (default: the pipeline's `image`). */
  image: z.string().max(512).optional(),
  run: Command.optional(),
  train: z.union([Command, z.strictObject({ run: Command, model: z.string().default('model.onnx') })]).optional(),
  evaluate: EvaluateSchema.optional(),
  gate: z.string().optional(),
  /** With `gate`: scan the registered candidate with this use case first; the gate reads the result as `scans`. */
  scan: z.strictObject({ usecase: z.string(), kinds: z.array(z.string()).max(8).optional() }).optional(),
  register: RegisterSchema.optional(),
  deploy: DeploySchema.optional(),
  notify: NotifySchema.optional(),
});

export const PipelineSpecSchema = z.strictObject({
  apiVersion: z.literal('modelport/v1').optional(),
  kind: z.literal('Pipeline').optional(),
  name: z.string(),
  description: z.string().max(4096).default(''),
  trigger: z
    .strictObject({
      data: z
        .strictObject({
          repo: z.string(),
          branch: z.string().default('main'),
          /** Paths of the commit's changes that start a run (`*.csv`, `data/**`); default every path. */
          glob: z.string().max(512).default('**'),
        })
        .optional(),
      model: z.strictObject({ name: z.string(), alias: z.string().optional() }).optional(),
      schedule: z.strictObject({ cron: z.string().max(256), timezone: z.string().max(64).default('UTC') }).optional(),
      /** Signed deliveries to /hooks/pipelines/<project>/<name>; `secret` names the project secret that signs them. */
      webhook: z.strictObject({ secret: z.string() }).optional(),
      /** Runs may always be started by hand (`pipelines trigger`); `manual: false` refuses that. */
      manual: z.boolean().default(true),
    })
    .default({ manual: true }),
  concurrency: z
    .strictObject({
      limit: z.number().int().min(1).max(64).default(1),
      /** Beyond the limit: `queue` the new run, `cancel-older` runs, or `skip` the new one. */
      policy: z.enum(['queue', 'cancel-older', 'skip']).default('queue'),
    })
    .default({ limit: 1, policy: 'queue' }),
  executor: z.enum(['local', 'kubernetes']).default('local'),
  /** Container image of steps on Kubernetes. */
  image: z.string().max(512).default('node:24-slim'),
  env: Env.default({}),
  secrets: SecretRefs.default([]),
  steps: z.array(StepSchema).min(1).max(100),
});

export type PipelineSpecInput = z.input<typeof PipelineSpecSchema>;
export type PipelineSpec = z.output<typeof PipelineSpecSchema>;
export type StepSpec = z.output<typeof StepSchema>;
export type StepKind = 'run' | 'train' | 'evaluate' | 'gate' | 'register' | 'deploy' | 'notify';
export const STEP_KINDS: readonly StepKind[] = ['run', 'train', 'evaluate', 'gate', 'register', 'deploy', 'notify'];

/** The kind of a step: the one kind field it sets. */
export function stepKind(step: StepSpec): StepKind {
  const kinds = STEP_KINDS.filter((k) => step[k] !== undefined);
  return kinds[0]!;
}

/** A step as the runner sees it: durations in milliseconds. */
export interface CompiledStep {
  spec: StepSpec;
  kind: StepKind;
  position: number;
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  memoryBytes: number | undefined;
}

export interface CompiledPipeline {
  spec: PipelineSpec;
  /** In topological order (a step after every step it needs). */
  steps: CompiledStep[];
}

/** Variables a `gate` expression may read. */
export const GATE_VARIABLES: readonly PolicyVariable[] = [
  { name: 'metrics', type: 'map<string, double>', description: "the candidate's metrics (the steps before, merged)" },
  { name: 'baseline', type: 'map<string, double>', description: 'the metrics of the version now serving' },
  {
    name: 'data',
    type: 'map',
    description:
      'the triggering commit: repo, branch, commit, message, author, files, size, and profile (per tabular file: rows, columns.<name>.{type, nulls, distinct, min, max, mean, stddev})',
  },
  { name: 'model', type: 'map', description: 'the candidate model file: file, size, sha256, format' },
  {
    name: 'scans',
    type: 'map',
    description:
      "the registered candidate's scan summary (src/scans): a fresh scan with the step's `scan`, else its latest",
  },
];

/** Variables a canary's `promote` expression may read. */
export const PROMOTE_VARIABLES: readonly PolicyVariable[] = [
  {
    name: 'canary',
    type: 'map<string, double>',
    description: "the canary's live numbers over the soak: requests, errors, error_rate, p99_ms",
  },
  { name: 'metrics', type: 'map<string, double>', description: "the candidate's metrics" },
  { name: 'scans', type: 'map', description: "the candidate's latest scan summary (src/scans)" },
];

const invalid = (field: string, message: string) =>
  new ModelportError('invalid_request', `${field}: ${message}`, { field });

function duration(value: string | number, field: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw invalid(field, `'${value}' is not a duration; use 30s, 5m or 1h`);
  return ms;
}

/** Parses a spec from any JSON value (a parsed YAML file); errors name the field (`steps[2].needs`). */
export function compilePipelineSpec(value: unknown): CompiledPipeline {
  const result = PipelineSpecSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path
      .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
      .join('');
    const field = issue.code === 'unrecognized_keys' ? `${path ? `${path}.` : ''}${issue.keys[0]}` : path || 'spec';
    throw new ModelportError(
      issue.code === 'unrecognized_keys' ? 'unknown_field' : 'invalid_request',
      `${field}: ${issue.code === 'unrecognized_keys' ? 'is not a field of a pipeline spec' : issue.message}`,
      { field },
    );
  }
  const spec = result.data;
  checkName(spec.name, 'name');
  const { trigger } = spec;
  if (trigger.data) {
    checkName(trigger.data.repo, 'trigger.data.repo');
    checkName(trigger.data.branch, 'trigger.data.branch');
    try {
      matchesGlob('x', trigger.data.glob);
    } catch (error) {
      throw invalid('trigger.data.glob', `'${trigger.data.glob}' is not a glob (${(error as Error).message})`);
    }
  }
  if (trigger.model) {
    checkName(trigger.model.name, 'trigger.model.name');
    if (trigger.model.alias !== undefined) checkAlias(trigger.model.alias, 'trigger.model.alias');
  }
  if (trigger.schedule) {
    try {
      new Cron(trigger.schedule.cron, { timezone: trigger.schedule.timezone, paused: true }).stop();
    } catch (error) {
      const tz = /timezone/i.test((error as Error).message);
      throw invalid(
        tz ? 'trigger.schedule.timezone' : 'trigger.schedule.cron',
        tz
          ? `'${trigger.schedule.timezone}' is not a time zone (use an IANA name such as Europe/Paris)`
          : `'${trigger.schedule.cron}' is not a cron expression (${(error as Error).message}); e.g. "0 3 * * *"`,
      );
    }
  }
  const names = new Set<string>();
  spec.steps.forEach((step, i) => {
    const at = `steps[${i}]`;
    checkName(step.name, `${at}.name`);
    if (names.has(step.name)) throw invalid(`${at}.name`, `the step name '${step.name}' is used twice`);
    names.add(step.name);
    const kinds = STEP_KINDS.filter((k) => step[k] !== undefined);
    if (kinds.length !== 1) {
      throw invalid(
        at,
        kinds.length === 0
          ? `say what the step does with one of ${STEP_KINDS.join(', ')}`
          : `a step has one kind; this one sets ${kinds.join(' and ')}`,
      );
    }
  });
  spec.steps.forEach((step, i) => {
    step.needs.forEach((need, j) => {
      if (!names.has(need)) {
        throw invalid(`steps[${i}].needs[${j}]`, `no step is named '${need}' (steps: ${[...names].join(', ')})`);
      }
      if (need === step.name) throw invalid(`steps[${i}].needs[${j}]`, `the step '${need}' cannot need itself`);
    });
  });
  const order = topologicalOrder(spec.steps.map((s) => ({ name: s.name, needs: s.needs })));
  if ('cycle' in order) {
    const first = spec.steps.findIndex((s) => s.name === order.cycle[0]);
    throw invalid(`steps[${first}].needs`, `the steps form a cycle: ${[...order.cycle, order.cycle[0]].join(' -> ')}`);
  }

  const steps: CompiledStep[] = spec.steps.map((step, position) => {
    const at = `steps[${position}]`;
    const kind = stepKind(step);
    if (step.gate !== undefined) compilePolicy(step.gate, GATE_VARIABLES, `${at}.gate`);
    if (step.scan !== undefined) {
      if (step.gate === undefined) throw invalid(`${at}.scan`, 'a scan belongs to a gate step (gate: "scans...")');
      checkName(step.scan.usecase, `${at}.scan.usecase`);
    }
    if (step.register) {
      checkName(step.register.model, `${at}.register.model`);
      if (step.register.alias !== undefined) checkAlias(step.register.alias, `${at}.register.alias`);
    }
    if (step.deploy) {
      checkName(step.deploy.deployment, `${at}.deploy.deployment`);
      duration(step.deploy.timeout, `${at}.deploy.timeout`);
      if (step.deploy.canary) {
        compilePolicy(step.deploy.canary.promote, PROMOTE_VARIABLES, `${at}.deploy.canary.promote`);
        duration(step.deploy.canary.after, `${at}.deploy.canary.after`);
      }
    }
    if (step.notify) checkNotify(step.notify, `${at}.notify`);
    const memory = step.resources.memory;
    const memoryBytes = memory === undefined ? undefined : parseSize(memory);
    if (memory !== undefined && memoryBytes === undefined) {
      throw invalid(`${at}.resources.memory`, `'${memory}' is not a size; use 512Mi or 2Gi`);
    }
    const retries = typeof step.retries === 'number' ? { count: step.retries, backoff: '5s' } : step.retries;
    return {
      spec: step,
      kind,
      position,
      timeoutMs: duration(step.timeout, `${at}.timeout`),
      retries: retries.count,
      backoffMs: duration(retries.backoff, `${at}.retries.backoff`),
      memoryBytes,
    };
  });
  const byName = new Map(steps.map((s) => [s.spec.name, s]));
  return { spec, steps: order.order.map((name) => byName.get(name)!) };
}

/** Secret names the spec refers to (pipeline, steps, webhook URLs), with the field that names each. */
export function secretReferences(spec: PipelineSpec): { secret: string; field: string }[] {
  const refs = spec.secrets.map((s, i) => ({ secret: s.secret, field: `secrets[${i}].secret` }));
  if (spec.trigger.webhook) refs.push({ secret: spec.trigger.webhook.secret, field: 'trigger.webhook.secret' });
  spec.steps.forEach((step, i) => {
    step.secrets.forEach((s, j) => {
      refs.push({ secret: s.secret, field: `steps[${i}].secrets[${j}].secret` });
    });
    const urlSecret = step.notify?.webhook.urlSecret;
    if (urlSecret !== undefined) refs.push({ secret: urlSecret, field: `steps[${i}].notify.webhook.urlSecret` });
  });
  return refs;
}
