/**
 * The built-in step kinds that run inside the server rather than as a command: `evaluate`, `gate`, `register`,
 * `deploy` and `notify`. Each takes what the steps before it made (their outputs and metrics) through a
 * `StepContext` and answers with a state, metrics and a result the run shows.
 */
import { stat } from 'node:fs/promises';
import { ModelportError, parseDuration, parseModelRef } from '../core/index.ts';
import type { DataCommit, FileProfile } from '../data/index.ts';
import type { Deployment } from '../deployments/index.ts';
import { sendNotification } from '../notify/index.ts';
import { compilePolicy, type PolicyResult } from '../policy/index.ts';
import type { ModelVersion, RegisterVersionInput } from '../registry/index.ts';
import type { BatchScorer, ScoringSignature } from '../scoring/index.ts';
import type { EvaluateJob } from './evaluate-process.ts';
import { type Evaluation, evaluateModel } from './evaluation.ts';
import { type CompiledStep, GATE_VARIABLES, type PipelineSpec, PROMOTE_VARIABLES } from './spec.ts';
import type { RunState, RunSummary, RunTrigger, StepResult } from './types.ts';

/** What a built-in step knows of its run. */
export interface StepContext {
  project: string;
  pipeline: string;
  spec: PipelineSpec;
  run: { id: string; number: number; revision: number; codeRef: string | null; codeSha256: string | null };
  step: CompiledStep;
  trigger: RunTrigger;
  /** The triggering commit, when the run has one. */
  commit: DataCommit | undefined;
  /** The metrics of the steps before it (ancestors, in order; later ones win). */
  metrics: Record<string, number>;
  /** A file among the outputs of the steps before it (the nearest one that has it), as a local path. */
  findOutput(file: string): Promise<string | undefined>;
  /** The version a `register` step before it made. */
  registered: { model: string; version: number } | undefined;
  /** The run's summary so far (for notify). */
  summary(): Promise<RunSummary & { pipeline: string; run: number; trigger: RunTrigger }>;
  secrets: Record<string, string>;
  log(line: string): void;
  signal: AbortSignal;
}

export interface StepOutcome {
  state: Extract<RunState, 'Succeeded' | 'Failed' | 'Blocked'>;
  reason?: string | null;
  metrics?: Record<string, number>;
  result?: StepResult;
}

/** The parts of the platform the built-in kinds call (the registry, deployments, the scorer, egress). */
export interface BuiltinStepDeps {
  registerVersion(project: string, name: string, input: RegisterVersionInput): Promise<ModelVersion>;
  getVersion(project: string, ref: string): Promise<ModelVersion>;
  deployments: {
    get(project: string, name: string): Promise<Deployment>;
    apply(project: string, name: string, spec: unknown): Promise<Deployment>;
    promote(project: string, name: string): Promise<Deployment>;
    rollback(project: string, name: string, toRevision?: number): Promise<Deployment>;
    wait(project: string, name: string, timeoutMs: number, signal?: AbortSignal): Promise<Deployment>;
    revisions(
      project: string,
      name: string,
    ): Promise<{ revision: number; targets: { traffic: { model: string; version: number; weight: number }[] } }[]>;
  };
  /** Opens the in-process scorer on a model file (evaluate, when `evaluate` is not given). */
  openScorer(path: string): Promise<BatchScorer & { signature: ScoringSignature; close(): Promise<void> }>;
  /** Runs an evaluation away from the event loop (the server: `evaluateInChild`), killed at the step's timeout. */
  evaluate?(job: EvaluateJob, options: { timeoutMs: number; signal: AbortSignal }): Promise<Evaluation>;
  /** Requests and errors served so far by a model version (the gateway's counters). */
  servedBy(model: string, version: number): { requests: number; errors: number };
  /** POST through the egress guard. */
  post(url: string, body: string, signal?: AbortSignal): Promise<{ status: number }>;
  /** Waits `ms` unless `signal` aborts first (tests can shorten it). */
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
  /** The profiles of a commit's tabular files (`data.profile` in gates); pending ones are waited for. */
  profiles?(project: string, repo: string, commit: string): Promise<FileProfile[]>;
  /** How long a gate waits for pending profiles (default 60 s). */
  profileWaitMs?: number;
  /** Scan summaries of a model version (src/scans): its latest, or a fresh scan with a use case's checks. */
  scans?: {
    latest(project: string, model: string, version: number): Promise<Record<string, unknown> | undefined>;
    fresh(
      project: string,
      usecase: string,
      candidate: { model: string; version: number },
      options: { kinds?: string[] | undefined; signal: AbortSignal },
    ): Promise<Record<string, unknown>>;
  };
}

const failed = (reason: string): StepOutcome => ({ state: 'Failed', reason });

function policyResult(result: PolicyResult): NonNullable<StepResult['policy']> {
  return {
    expression: result.expression,
    passed: result.passed,
    explanation: result.explanation,
    values: result.values,
  };
}

const abortableSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });

export class BuiltinSteps {
  readonly #deps: BuiltinStepDeps;

  constructor(deps: BuiltinStepDeps) {
    this.#deps = deps;
  }

  async run(ctx: StepContext): Promise<StepOutcome> {
    const { spec } = ctx.step;
    if (spec.evaluate) return this.#evaluate(ctx, spec.evaluate);
    if (spec.gate !== undefined) return this.#gate(ctx, spec.gate);
    if (spec.register) return this.#register(ctx, spec.register);
    if (spec.deploy) return this.#deploy(ctx, spec.deploy);
    if (spec.notify) return this.#notify(ctx, spec.notify);
    return failed(`step kind '${ctx.step.kind}' does not run in the server`);
  }

  async #evaluate(ctx: StepContext, e: NonNullable<CompiledStep['spec']['evaluate']>): Promise<StepOutcome> {
    const model = await ctx.findOutput(e.model);
    if (!model) return failed(`evaluate.model: no step before this one wrote '${e.model}'`);
    if (!ctx.commit) return failed('evaluate.data: the run has no data commit to read the held-out file from');
    const file = await ctx.findOutput(`input:${e.data}`);
    if (!file) return failed(`evaluate.data: '${e.data}' is not a file of commit ${ctx.commit.id.slice(0, 12)}`);
    ctx.log(`evaluate: scoring ${e.data} at ${ctx.commit.id.slice(0, 12)} with ${e.model} (${e.task})`);
    const job = { model, file, label: e.label, task: e.task, threshold: e.threshold };
    const evaluate = this.#deps.evaluate
      ? () => this.#deps.evaluate!(job, { timeoutMs: ctx.step.timeoutMs, signal: ctx.signal })
      : async () => {
          const scorer = await this.#deps.openScorer(model);
          try {
            return await evaluateModel(scorer, scorer.signature, { ...job, signal: ctx.signal });
          } finally {
            await scorer.close();
          }
        };
    try {
      const result = await evaluate();
      ctx.log(
        `evaluate: ${result.rows} rows: ${Object.entries(result.metrics)
          .map(([k, v]) => `${k} ${Number(v.toPrecision(6))}`)
          .join(', ')}`,
      );
      return {
        state: 'Succeeded',
        metrics: result.metrics,
        result: { rows: result.rows, ...(result.confusion ? { confusion: result.confusion } : {}) },
      };
    } catch (error) {
      if (error instanceof ModelportError) return failed(error.message);
      throw error;
    }
  }

  async #baseline(ctx: StepContext): Promise<Record<string, number>> {
    const deployment = ctx.spec.steps.find((s) => s.deploy)?.deploy?.deployment;
    if (!deployment) return {};
    try {
      const d = await this.#deps.deployments.get(ctx.project, deployment);
      const primary = [...d.status.targets].sort((a, b) => b.weight - a.weight)[0];
      if (!primary) return {};
      return (await this.#deps.getVersion(ctx.project, `${primary.model}@${primary.version}`)).metrics;
    } catch (error) {
      if (error instanceof ModelportError && error.code === 'not_found') return {};
      throw error;
    }
  }

  async #gate(ctx: StepContext, expression: string): Promise<StepOutcome> {
    const policy = compilePolicy(expression, GATE_VARIABLES, `steps[${ctx.step.position}].gate`);
    const candidate = (await ctx.findOutput('model.onnx')) ?? (await ctx.findOutput('model.tgz'));
    const model: Record<string, unknown> = candidate
      ? { file: candidate.split('/').at(-1), size: (await stat(candidate)).size }
      : {};
    const c = ctx.commit;
    const data: Record<string, unknown> = c
      ? {
          repo: c.repo,
          branch: c.branch,
          commit: c.id,
          message: c.message,
          author: c.author,
          files: c.files,
          size: c.size,
          ...(policy.reads.some((r) => r.path.startsWith('data.profile'))
            ? { profile: await this.#profiles(ctx, c) }
            : {}),
        }
      : {};
    let scans: Record<string, unknown> = {};
    const scan = ctx.step.spec.scan;
    if (scan || policy.reads.some((r) => r.path.split('.')[0] === 'scans')) {
      if (!ctx.registered)
        return failed('gate.scan: scans measure a registered version; put a register step before this gate');
      if (!this.#deps.scans) return failed('gate.scan: this server has no scans');
      if (scan) {
        ctx.log(`gate: scanning ${ctx.registered.model}@${ctx.registered.version} with use case ${scan.usecase}`);
        try {
          scans = await this.#deps.scans.fresh(ctx.project, scan.usecase, ctx.registered, {
            kinds: scan.kinds,
            signal: ctx.signal,
          });
        } catch (error) {
          if (error instanceof ModelportError) return failed(`gate.scan: ${error.message}`);
          throw error;
        }
      } else {
        scans = (await this.#deps.scans.latest(ctx.project, ctx.registered.model, ctx.registered.version)) ?? {};
      }
    }
    const result = policy.evaluate({ metrics: ctx.metrics, baseline: await this.#baseline(ctx), data, model, scans });
    ctx.log(`gate: ${result.explanation}`);
    return {
      state: result.passed ? 'Succeeded' : 'Blocked',
      reason: result.passed ? null : result.explanation,
      result: { policy: policyResult(result) },
    };
  }

  /**
   * `data.profile`: per tabular file of the commit, its rows and per column type, nulls, distinct, min, max, mean
   * and stddev. Profiles are computed in the background after a commit: pending ones are waited for (bounded).
   */
  async #profiles(ctx: StepContext, commit: DataCommit): Promise<Record<string, unknown>> {
    const read = this.#deps.profiles;
    if (!read) return {};
    const deadline = Date.now() + (this.#deps.profileWaitMs ?? 60_000);
    let profiles = await read(ctx.project, commit.repo, commit.id);
    while (profiles.some((p) => p.state === 'pending') && Date.now() < deadline && !ctx.signal.aborted) {
      await (this.#deps.sleep ?? abortableSleep)(250, ctx.signal).catch(() => {});
      profiles = await read(ctx.project, commit.repo, commit.id);
    }
    const out: Record<string, unknown> = {};
    for (const p of profiles) {
      if (p.state !== 'ready' || !p.profile) {
        ctx.log(`gate: no profile of ${p.path} (${p.state}${p.error ? `: ${p.error}` : ''})`);
        continue;
      }
      out[p.path] = {
        rows: p.profile.rows,
        columns: Object.fromEntries(
          p.profile.columns.map((col) => [
            col.name,
            {
              type: col.type,
              nulls: col.nulls,
              distinct: col.distinct,
              min: col.min,
              max: col.max,
              mean: col.mean,
              stddev: col.stddev,
            },
          ]),
        ),
      };
    }
    return out;
  }

  async #register(ctx: StepContext, r: NonNullable<CompiledStep['spec']['register']>): Promise<StepOutcome> {
    const file = await ctx.findOutput(r.file);
    if (!file) return failed(`register.file: no step before this one wrote '${r.file}'`);
    const code = ctx.run.codeRef ?? (ctx.run.codeSha256 ? `sha256:${ctx.run.codeSha256}` : 'none');
    const metrics = Object.fromEntries(Object.entries(ctx.metrics).filter(([, v]) => Number.isFinite(v)));
    const from = ctx.commit ? ` from ${ctx.commit.repo}@${ctx.commit.id.slice(0, 12)}` : '';
    const version = await this.#deps.registerVersion(ctx.project, r.model, {
      file,
      format: r.format,
      description: r.description ?? `Trained by pipeline ${ctx.pipeline} run #${ctx.run.number}${from}`,
      metrics,
      aliases: r.alias ? [r.alias] : [],
      tags: {
        pipeline: ctx.pipeline,
        run: String(ctx.run.number),
        step: ctx.step.spec.name,
        code,
      },
      lineage: {
        ...(ctx.commit ? { dataCommit: `${ctx.commit.repo}@${ctx.commit.id}` } : {}),
        pipelineRun: ctx.run.id,
        source: `pipeline ${ctx.pipeline} revision ${ctx.run.revision} step ${ctx.step.spec.name} (code ${code})`,
      },
    });
    const ref = ctx.commit ? `${r.model}@commit:${ctx.commit.id.slice(0, 12)}` : `${r.model}@${version.version}`;
    ctx.log(
      `register: ${r.model} version ${version.version}${r.alias ? ` (alias ${r.alias})` : ''}, addressable as ${ref}`,
    );
    return { state: 'Succeeded', result: { registered: { model: r.model, version: version.version, ref } } };
  }

  async #deploy(ctx: StepContext, d: NonNullable<CompiledStep['spec']['deploy']>): Promise<StepOutcome> {
    const deps = this.#deps;
    let target: { model: string; version: number };
    if (d.model !== undefined) {
      const v = await deps.getVersion(ctx.project, d.model);
      target = { model: v.model, version: v.version };
    } else if (ctx.registered) {
      target = ctx.registered;
    } else {
      return failed('deploy.model: name the model to deploy, or put a register step before this one');
    }
    const ref = `${target.model}@${target.version}`;
    const timeoutMs = parseDuration(d.timeout)!;
    let existing: Deployment | undefined;
    try {
      existing = await deps.deployments.get(ctx.project, d.deployment);
    } catch (error) {
      if (!(error instanceof ModelportError && error.code === 'not_found')) throw error;
    }
    if (!existing || !d.canary) {
      ctx.log(`deploy: ${existing ? 'rolling update of' : 'creating'} deployment ${d.deployment} to ${ref}`);
      const spec = existing
        ? { ...existing.spec, traffic: [{ model: ref, weight: 100 }] }
        : { traffic: [{ model: ref, weight: 100 }] };
      await deps.deployments.apply(ctx.project, d.deployment, spec);
      const ready = await deps.deployments.wait(ctx.project, d.deployment, timeoutMs, ctx.signal);
      ctx.log(`deploy: ${d.deployment} is Ready at revision ${ready.currentRevision}: ${ready.status.urls.rest}`);
      return {
        state: 'Succeeded',
        result: {
          deployed: { deployment: d.deployment, url: ready.status.urls.rest, revision: ready.currentRevision },
        },
      };
    }
    const canary = d.canary;
    const before = existing.currentRevision;
    const revisions = await deps.deployments.revisions(ctx.project, d.deployment);
    const pinned = revisions.find((r) => r.revision === before)?.targets.traffic ?? [];
    const stable = [...pinned].sort((a, b) => b.weight - a.weight)[0];
    if (!stable) return failed(`deploy: deployment ${d.deployment} has no serving target to put a canary beside`);
    ctx.log(`deploy: canary ${ref} at ${canary.weight}% beside ${stable.model}@${stable.version} on ${d.deployment}`);
    await deps.deployments.apply(ctx.project, d.deployment, {
      ...existing.spec,
      traffic: [
        { model: `${stable.model}@${stable.version}`, weight: 100 - canary.weight, tag: 'stable' },
        { model: ref, weight: canary.weight, tag: 'canary' },
      ],
    });
    await deps.deployments.wait(ctx.project, d.deployment, timeoutMs, ctx.signal);
    const start = deps.servedBy(target.model, target.version);
    const soakMs = parseDuration(canary.after)!;
    ctx.log(`deploy: canary Ready; soaking for ${Math.round(soakMs / 1000)} s`);
    await (deps.sleep ?? abortableSleep)(soakMs, ctx.signal);
    const end = deps.servedBy(target.model, target.version);
    const requests = end.requests - start.requests;
    const errors = end.errors - start.errors;
    const numbers = { requests, errors, error_rate: requests === 0 ? 0 : errors / requests };
    const policy = compilePolicy(
      canary.promote,
      PROMOTE_VARIABLES,
      `steps[${ctx.step.position}].deploy.canary.promote`,
    );
    const scans = (await deps.scans?.latest(ctx.project, target.model, target.version)) ?? {};
    const verdict = policy.evaluate({ canary: numbers, metrics: ctx.metrics, scans });
    ctx.log(`deploy: promote rule ${verdict.explanation}`);
    let refused: string | undefined;
    if (verdict.passed) {
      try {
        await deps.deployments.promote(ctx.project, d.deployment);
      } catch (error) {
        // The deployment's own promotionPolicy has the last word; a refusal rolls the canary back like a failed rule.
        if (!(error instanceof ModelportError && error.code === 'policy_refused')) throw error;
        refused = error.message;
      }
    }
    if (verdict.passed && refused === undefined) {
      const ready = await deps.deployments.wait(ctx.project, d.deployment, timeoutMs, ctx.signal);
      ctx.log(`deploy: promoted ${ref} to 100% on ${d.deployment}: ${ready.status.urls.rest}`);
      return {
        state: 'Succeeded',
        metrics: Object.fromEntries(Object.entries(numbers).map(([k, v]) => [`canary_${k}`, v])),
        result: {
          policy: policyResult(verdict),
          deployed: {
            deployment: d.deployment,
            url: ready.status.urls.rest,
            revision: ready.currentRevision,
            canary: { weight: canary.weight, promoted: true },
          },
        },
      };
    }
    await deps.deployments.rollback(ctx.project, d.deployment, before);
    await deps.deployments.wait(ctx.project, d.deployment, timeoutMs, ctx.signal);
    return {
      state: 'Failed',
      reason: `the canary was not promoted (${refused ?? verdict.explanation}); rolled back to revision ${before}`,
      result: { policy: policyResult(verdict) },
    };
  }

  async #notify(ctx: StepContext, n: NonNullable<CompiledStep['spec']['notify']>): Promise<StepOutcome> {
    const s = await ctx.summary();
    const trigger = describeTrigger(s.trigger);
    const metrics = Object.entries(s.metrics)
      .filter(([k]) => !/^(tn|fp|fn|tp)$/.test(k))
      .map(([k, v]) => `${k} ${Number(v.toPrecision(4))}`)
      .join(', ');
    const lines = [
      `Pipeline ${s.pipeline} run #${s.run}: ${s.state}`,
      `Trigger: ${trigger}`,
      ...(metrics ? [`Metrics: ${metrics}`] : []),
      ...(s.gate ? [`Gate: ${s.gate.explanation}`] : []),
      ...(s.registered ? [`Registered: ${s.registered}`] : []),
      ...(s.deployed ? [`Deployed: ${s.deployed}`] : []),
      ...(s.reason && s.state !== 'Succeeded' ? [`Reason: ${s.reason}`] : []),
      ...(s.durationMs !== null ? [`Duration: ${(s.durationMs / 1000).toFixed(1)} s`] : []),
    ];
    const fields = {
      pipeline: s.pipeline,
      run: s.run,
      project: ctx.project,
      state: s.state,
      trigger: s.trigger,
      metrics: s.metrics,
      gate: s.gate,
      registered: s.registered,
      deployed: s.deployed,
      reason: s.reason,
      durationMs: s.durationMs,
    };
    try {
      const sent = await sendNotification(
        n,
        { lines, fields },
        { post: this.#deps.post, secrets: ctx.secrets, signal: ctx.signal },
      );
      ctx.log(`notify: ${n.webhook.format} webhook at ${sent.shown} answered ${sent.status}`);
      return { state: 'Succeeded', result: { notified: { url: sent.shown, status: sent.status } } };
    } catch (error) {
      if (error instanceof ModelportError) return failed(`notify: ${error.message}`);
      throw error;
    }
  }
}

export function describeTrigger(trigger: RunTrigger): string {
  switch (trigger.kind) {
    case 'data':
      return `commit ${trigger.commit.slice(0, 12)} on ${trigger.repo}/${trigger.branch}`;
    case 'model':
      return trigger.alias
        ? `alias ${trigger.alias} of ${trigger.model} moved to version ${trigger.version}`
        : `new version ${trigger.model}@${trigger.version}`;
    case 'schedule':
      return `schedule tick ${trigger.tick}`;
    case 'manual':
      return `started by ${trigger.by}${trigger.commit ? ` on ${trigger.repo}@${trigger.commit.slice(0, 12)}` : ''}`;
    case 'webhook':
      return `webhook delivery ${trigger.delivery}${trigger.event ? ` (${trigger.event})` : ''}`;
  }
}

/** `fraud@3`-style reference check used by deploy.model. */
export function checkModelRef(value: string, field: string): void {
  parseModelRef(value, field);
}
