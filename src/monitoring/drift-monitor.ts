/**
 * Live drift per deployment. For each deployment whose spec has `monitoring.drift`, a croner job (its `schedule`)
 * reads the logged calls of the last `window` from the payload log (the built-in sink's Parquet files, through its
 * DuckDB queries), splits them per traffic arm, and compares each arm's inputs, feature by feature, with the
 * profile of its model version's training data (the version's `dataCommit`, a file of that commit profiled by
 * src/data): PSI and KS for numbers, PSI and chi-square for categories (src/stats). A check is stored
 * (`deployment_drift`), exported to /metrics, and decides the deployment's `DriftDetected` condition; when that
 * turns True (or back to False) the spec's `notify` webhooks are told, through the same code as pipelines' notify.
 *
 *   const monitor = new DriftMonitor({ db, deployments, registry, data, payloads, post, secrets, log });
 *   await monitor.start();                 // arms the schedules, and re-arms them as specs change
 *   await monitor.check('default', 'fraud-api');  // one check now, as the schedule would run it
 */
import { randomUUID } from 'node:crypto';
import { Cron } from 'croner';
import type { Kysely } from 'kysely';
import { ModelportError, parseDuration } from '../core/index.ts';
import type { ColumnProfile, DataProfile } from '../data/index.ts';
import type { Condition, Deployment, DriftMonitorSpec } from '../deployments/index.ts';
import type { Logger } from '../logging/index.ts';
import type { Counter, Gauge, MetricsRegistry } from '../metrics/index.ts';
import { type PostJson, sendNotification } from '../notify/index.ts';
import type { ModelVersion } from '../registry/index.ts';
import { categoricalDrift, datasetDrift, numericDrift } from '../stats/index.ts';
import type { Database } from '../store/index.ts';
import { featureSlots, featureValues, type LoggedCall, referenceFromColumn } from './drift-inputs.ts';

/** One feature's scores in a check. */
export interface FeatureDrift {
  name: string;
  kind: 'numeric' | 'categorical';
  /** Values of the window read for it. */
  rows: number;
  psi: number;
  /** KS statistic (numeric) or total variation distance (categorical). */
  effect: number;
  pValue: number;
  drifted: boolean;
}

/** One check of one traffic arm. */
export interface DriftCheck {
  id: string;
  project: string;
  deployment: string;
  revision: number;
  /** The traffic arm: its tag, or `primary` when untagged. */
  arm: string;
  model: string;
  modelVersion: number;
  checkedAt: string;
  windowStart: string;
  rows: number;
  /** `drifted`, `ok`, or why nothing was judged: `too_few_rows`, `no_reference`. */
  state: 'drifted' | 'ok' | 'too_few_rows' | 'no_reference';
  /** Why nothing was judged, or what drifted. */
  message: string;
  share: number | null;
  threshold: number;
  shareThreshold: number;
  /** `repo@commit:path` of the profile used. */
  reference: string | null;
  features: FeatureDrift[];
  /** Features of the model that the reference has no column for. */
  unmatched: string[];
}

/** The reads drift needs; the composition root passes the real services. */
export interface DriftMonitorDeps {
  db: Kysely<Database>;
  /** Every project's name. */
  projects(): Promise<string[]>;
  deployments: {
    list(project: string): Promise<Deployment[]>;
    get(project: string, name: string): Promise<Deployment>;
  };
  registry: { getVersion(project: string, ref: { name: string; version: number }): Promise<ModelVersion> };
  data: {
    tree(
      project: string,
      repo: string,
      ref: string,
      path: string,
      recursive: boolean,
    ): Promise<{ entries: { path: string; type: string }[] }>;
    profile(
      project: string,
      repo: string,
      ref: string,
      path: string,
    ): Promise<{ state: string; profile: DataProfile | null }>;
  };
  /** The payload log's query: newest first, at most 1000 per call. */
  payloads: {
    query(q: {
      project: string;
      deployment: string;
      since?: number;
      until?: number;
      limit?: number;
      offset?: number;
    }): Promise<(LoggedCall & { time: string })[]>;
  };
  post: PostJson;
  /** The project's secret values by name (for `urlSecret` webhooks). */
  secrets(project: string, names: string[]): Promise<Record<string, string>>;
  metrics?: MetricsRegistry;
  log: Logger;
  now?: () => number;
  /** How often specs are re-read to arm or disarm schedules. Default 30 s. */
  syncIntervalMs?: number;
}

const TABULAR = /\.(csv|tsv|jsonl|ndjson|parquet)$/i;
const PAGE = 1000;

interface Armed {
  key: string;
  cron: Cron;
}

export class DriftMonitor {
  readonly #d: DriftMonitorDeps;
  readonly #armed = new Map<string, Armed>();
  /** The latest verdict per deployment: drifted or not, with what the condition says. */
  readonly #verdicts = new Map<string, { drifted: boolean; message: string; at: string }>();
  readonly #running = new Map<string, Promise<DriftCheck[]>>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #gauges: { psi: Gauge; share: Gauge; detected: Gauge; checks: Counter } | undefined;

  constructor(deps: DriftMonitorDeps) {
    this.#d = deps;
    const m = deps.metrics;
    this.#gauges = m
      ? {
          psi: m.gauge('modelport_drift_psi', 'PSI of a feature in the latest drift check of a deployment arm.', [
            'project',
            'deployment',
            'arm',
            'feature',
          ]),
          share: m.gauge('modelport_drift_share', 'Share of drifted features in the latest drift check of an arm.', [
            'project',
            'deployment',
            'arm',
          ]),
          detected: m.gauge('modelport_drift_detected', "1 while the deployment's DriftDetected condition is True.", [
            'project',
            'deployment',
          ]),
          checks: m.counter('modelport_drift_checks_total', 'Drift checks by result state.', [
            'project',
            'deployment',
            'state',
          ]),
        }
      : undefined;
  }

  /** Loads the latest verdicts, arms the schedules, and re-reads the specs every `syncIntervalMs`. */
  async start(): Promise<void> {
    // The newest judged check of each deployment (one row per arm, all with its time) gives its verdict.
    const rows = await this.#d.db
      .selectFrom('deployment_drift')
      .select(['project', 'deployment', 'state', 'checked_at', 'result'])
      .where('state', 'in', ['drifted', 'ok'])
      .orderBy('checked_at', 'desc')
      .limit(10_000)
      .execute();
    const newest = new Map<string, { at: string; checks: DriftCheck[] }>();
    for (const row of rows) {
      const key = `${row.project}/${row.deployment}`;
      const seen = newest.get(key);
      if (seen && seen.at !== row.checked_at) continue;
      const entry = seen ?? { at: row.checked_at, checks: [] };
      entry.checks.push(JSON.parse(row.result) as DriftCheck);
      newest.set(key, entry);
    }
    for (const [key, { at, checks }] of newest) this.#verdicts.set(key, { ...verdict(checks), at });
    await this.sync();
    this.#timer = setInterval(() => {
      this.sync().catch((err: unknown) => this.#d.log.warn('drift schedules not synced', { err }));
    }, this.#d.syncIntervalMs ?? 30_000);
    this.#timer.unref();
  }

  /** Arms a job per deployment with `monitoring.drift` (again when its spec changed), disarms the rest. */
  async sync(): Promise<void> {
    const seen = new Set<string>();
    for (const project of await this.#d.projects()) {
      for (const d of await this.#d.deployments.list(project)) {
        const drift = d.spec.monitoring?.drift;
        if (!drift) continue;
        const name = `${project}/${d.name}`;
        seen.add(name);
        const key = JSON.stringify([drift.schedule, d.currentRevision]);
        if (this.#armed.get(name)?.key === key) continue;
        this.#armed.get(name)?.cron.stop();
        const cron = new Cron(drift.schedule, { protect: true }, () =>
          this.check(project, d.name).then(
            () => undefined,
            (err: unknown) => this.#d.log.warn('drift check failed', { deployment: d.name, project, err }),
          ),
        );
        this.#armed.set(name, { key, cron });
      }
    }
    for (const [name, armed] of this.#armed) {
      if (seen.has(name)) continue;
      armed.cron.stop();
      this.#armed.delete(name);
      this.#verdicts.delete(name);
    }
  }

  /** When each armed deployment checks next (for the API). */
  nextRun(project: string, name: string): string | null {
    return this.#armed.get(`${project}/${name}`)?.cron.nextRun()?.toISOString() ?? null;
  }

  /** The `DriftDetected` condition of a deployment that monitors drift and has a verdict. */
  condition(project: string, name: string): Condition | undefined {
    const v = this.#verdicts.get(`${project}/${name}`);
    if (!v) return undefined;
    return {
      type: 'DriftDetected',
      status: v.drifted ? 'True' : 'False',
      reason: v.drifted ? 'InputDrift' : 'NoDrift',
      message: v.message,
      lastTransitionTime: v.at,
    };
  }

  /** Checks a deployment now, one result per traffic arm; concurrent calls share the check. */
  check(project: string, name: string): Promise<DriftCheck[]> {
    const key = `${project}/${name}`;
    let running = this.#running.get(key);
    if (!running) {
      running = this.#check(project, name).finally(() => this.#running.delete(key));
      this.#running.set(key, running);
    }
    return running;
  }

  /** Stored checks, newest first. */
  async history(project: string, name: string, limit = 100): Promise<DriftCheck[]> {
    const rows = await this.#d.db
      .selectFrom('deployment_drift')
      .select('result')
      .where('project', '=', project)
      .where('deployment', '=', name)
      .orderBy('checked_at', 'desc')
      .limit(Math.min(Math.max(1, limit), 1000))
      .execute();
    return rows.map((r) => JSON.parse(r.result) as DriftCheck);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const armed of this.#armed.values()) armed.cron.stop();
    this.#armed.clear();
    await Promise.allSettled([...this.#running.values()]);
  }

  async #check(project: string, name: string): Promise<DriftCheck[]> {
    const d = await this.#d.deployments.get(project, name);
    const spec = d.spec.monitoring?.drift;
    if (!spec) {
      throw new ModelportError(
        'invalid_request',
        `deployment '${name}' does not monitor drift; add spec.monitoring.drift to its spec`,
        { field: 'spec.monitoring.drift' },
      );
    }
    const now = this.#d.now?.() ?? Date.now();
    const windowMs = parseDuration(spec.window) ?? 3_600_000;
    const calls = await this.#window(project, name, now - windowMs, now, spec.maxRows);
    const targets = d.status.targets.length
      ? d.status.targets
      : d.spec.traffic.map((t) => ({ model: t.model, version: Number.NaN, tag: t.tag }));
    const checks: DriftCheck[] = [];
    for (const target of targets) {
      if (!Number.isFinite(target.version)) continue;
      const version = await this.#d.registry.getVersion(project, { name: target.model, version: target.version });
      const mine = calls.filter((c) => c.model === version.model && c.modelVersion === version.version);
      const check = await this.#judge(project, d, spec, version, target.tag ?? 'primary', mine, now, windowMs);
      await this.#store(check);
      checks.push(check);
    }
    if (!this.#closed) await this.#decide(project, d, spec, checks);
    return checks;
  }

  /** The window's logged calls, newest first, up to `max`. */
  async #window(project: string, deployment: string, since: number, until: number, max: number) {
    const out: (LoggedCall & { time: string })[] = [];
    for (let offset = 0; out.length < max; offset += PAGE) {
      const page = await this.#d.payloads.query({
        project,
        deployment,
        since,
        until,
        limit: Math.min(PAGE, max - out.length),
        offset,
      });
      out.push(...page);
      if (page.length < PAGE) break;
    }
    return out;
  }

  async #judge(
    project: string,
    d: Deployment,
    spec: DriftMonitorSpec,
    version: ModelVersion,
    arm: string,
    calls: LoggedCall[],
    now: number,
    windowMs: number,
  ): Promise<DriftCheck> {
    const base = {
      id: randomUUID(),
      project,
      deployment: d.name,
      revision: d.currentRevision,
      arm,
      model: version.model,
      modelVersion: version.version,
      checkedAt: new Date(now).toISOString(),
      windowStart: new Date(now - windowMs).toISOString(),
      rows: calls.length,
      threshold: spec.threshold,
      shareThreshold: spec.share,
      features: [] as FeatureDrift[],
      unmatched: [] as string[],
      share: null,
    };
    const slots = featureSlots(version);
    const found = await this.#reference(
      project,
      version,
      slots.map((s) => s.name),
      spec.reference?.path,
    );
    if ('missing' in found) return { ...base, state: 'no_reference', message: found.missing, reference: null };
    if (calls.length < spec.minRows) {
      return {
        ...base,
        state: 'too_few_rows',
        message: `${calls.length} logged calls in the window, fewer than minRows (${spec.minRows}): no verdict`,
        reference: found.source,
      };
    }
    const values = featureValues(slots, calls);
    const features: FeatureDrift[] = [];
    const unmatched: string[] = [];
    for (const slot of slots) {
      const column = found.columns.get(slot.name.toLowerCase());
      const reference = column ? referenceFromColumn(column, found.rows) : undefined;
      const current = values.get(slot.name) ?? [];
      if (!reference || current.length === 0) {
        unmatched.push(slot.name);
        continue;
      }
      const thresholds = { psi: spec.threshold };
      if (reference.kind === 'numeric') {
        const numbers = current.filter((v): v is number => typeof v === 'number');
        if (numbers.length === 0) {
          unmatched.push(slot.name);
          continue;
        }
        const r = numericDrift(reference, numbers, thresholds);
        features.push({
          name: slot.name,
          kind: 'numeric',
          rows: numbers.length,
          psi: r.psi,
          effect: r.ks.statistic,
          pValue: r.ks.pValue,
          drifted: r.drifted,
        });
      } else {
        const r = categoricalDrift(reference, current.map(String), thresholds);
        features.push({
          name: slot.name,
          kind: 'categorical',
          rows: current.length,
          psi: r.psi,
          effect: r.totalVariation,
          pValue: r.chiSquare.pValue,
          drifted: r.drifted,
        });
      }
    }
    if (features.length === 0) {
      return {
        ...base,
        unmatched,
        state: 'no_reference',
        message: `no feature of ${version.model}@${version.version} has a column in ${found.source}`,
        reference: found.source,
      };
    }
    const verdict = datasetDrift(features, { share: spec.share });
    const worst = [...features]
      .filter((f) => f.drifted)
      .sort((a, b) => b.psi - a.psi)
      .slice(0, 5)
      .map((f) => `${f.name} (PSI ${f.psi.toFixed(2)})`);
    return {
      ...base,
      features,
      unmatched,
      share: verdict.share,
      state: verdict.drifted ? 'drifted' : 'ok',
      message: verdict.drifted
        ? `${verdict.driftedFeatures.length} of ${features.length} features drifted (${pct(verdict.share)} >= ${pct(spec.share)}): ${worst.join(', ')}`
        : `${verdict.driftedFeatures.length} of ${features.length} features drifted (${pct(verdict.share)} < ${pct(spec.share)})`,
      reference: found.source,
    };
  }

  /** The profile of the version's training data: the given file, else the commit's file matching most features. */
  async #reference(
    project: string,
    version: ModelVersion,
    features: string[],
    path: string | undefined,
  ): Promise<{ missing: string } | { source: string; rows: number; columns: Map<string, ColumnProfile> }> {
    const lineage = version.lineage.dataCommit;
    const at = lineage?.lastIndexOf('@') ?? -1;
    if (!lineage || at <= 0) {
      return {
        missing: `${version.model}@${version.version} names no training data commit (register it with --data-commit, or from a pipeline)`,
      };
    }
    const repo = lineage.slice(0, at);
    const commit = lineage.slice(at + 1);
    let paths: string[];
    if (path !== undefined) paths = [path];
    else {
      const tree = await this.#d.data.tree(project, repo, commit, '', true);
      paths = tree.entries.filter((e) => e.type === 'file' && TABULAR.test(e.path)).map((e) => e.path);
    }
    const wanted = new Set(features.map((f) => f.toLowerCase()));
    let best: { source: string; rows: number; columns: Map<string, ColumnProfile>; matches: number } | undefined;
    let pending = 0;
    for (const p of paths) {
      const stored = await this.#d.data.profile(project, repo, commit, p).catch(() => undefined);
      if (stored?.state === 'pending') pending++;
      if (!stored?.profile) continue;
      const columns = new Map(stored.profile.columns.map((c) => [c.name.toLowerCase(), c]));
      const matches = [...wanted].filter((f) => columns.has(f)).length;
      if (!best || matches > best.matches) {
        best = { source: `${repo}@${commit.slice(0, 12)}:${p}`, rows: stored.profile.rows, columns, matches };
      }
    }
    if (!best || best.matches === 0) {
      return {
        missing:
          pending > 0
            ? `the profile of ${repo}@${commit.slice(0, 12)} is still being computed`
            : `no profiled file of ${repo}@${commit.slice(0, 12)}${path ? ` at '${path}'` : ''} has a column named like a feature of ${version.model}@${version.version}`,
      };
    }
    return best;
  }

  async #store(check: DriftCheck): Promise<void> {
    await this.#d.db
      .insertInto('deployment_drift')
      .values({
        id: check.id,
        project: check.project,
        deployment: check.deployment,
        revision: check.revision,
        model: check.model,
        model_version: check.modelVersion,
        checked_at: check.checkedAt,
        window_start: check.windowStart,
        rows: check.rows,
        state: check.state,
        share: check.share,
        reference: check.reference,
        result: JSON.stringify(check),
      })
      .execute();
    const g = this.#gauges;
    if (!g) return;
    g.checks.inc({ project: check.project, deployment: check.deployment, state: check.state });
    if (check.share !== null)
      g.share.set({ project: check.project, deployment: check.deployment, arm: check.arm }, check.share);
    for (const f of check.features) {
      if (Number.isFinite(f.psi)) {
        g.psi.set({ project: check.project, deployment: check.deployment, arm: check.arm, feature: f.name }, f.psi);
      }
    }
  }

  /** The deployment's verdict from its arms' checks; a change is notified. */
  async #decide(project: string, d: Deployment, spec: DriftMonitorSpec, checks: DriftCheck[]): Promise<void> {
    const judged = checks.filter((c) => c.state === 'drifted' || c.state === 'ok');
    if (judged.length === 0) return;
    const drifted = judged.filter((c) => c.state === 'drifted');
    const key = `${project}/${d.name}`;
    const before = this.#verdicts.get(key);
    const { message } = verdict(judged);
    const now = judged[0]?.checkedAt ?? new Date().toISOString();
    const changed = before === undefined ? drifted.length > 0 : before.drifted !== drifted.length > 0;
    this.#verdicts.set(key, { drifted: drifted.length > 0, message, at: changed || !before ? now : before.at });
    this.#gauges?.detected.set({ project, deployment: d.name }, drifted.length > 0 ? 1 : 0);
    if (!changed) return;
    if (drifted.length > 0) this.#d.log.warn('drift detected', { project, deployment: d.name, message });
    else this.#d.log.info('drift cleared', { project, deployment: d.name });
    if (spec.notify.length === 0) return;
    const secretNames = spec.notify.flatMap((n) => (n.webhook.urlSecret ? [n.webhook.urlSecret] : []));
    const secrets = secretNames.length ? await this.#d.secrets(project, secretNames) : {};
    const lines = [
      drifted.length > 0 ? `Deployment ${d.name}: drift detected` : `Deployment ${d.name}: drift cleared`,
      ...judged.map((c) => `${c.arm} (${c.model}@${c.modelVersion}, ${c.rows} calls): ${c.message}`),
      `Reference: ${judged[0]?.reference ?? ''}`,
    ];
    const fields = {
      event: drifted.length > 0 ? 'drift.detected' : 'drift.cleared',
      project,
      deployment: d.name,
      revision: d.currentRevision,
      checks: judged.map((c) => ({
        arm: c.arm,
        model: c.model,
        modelVersion: c.modelVersion,
        rows: c.rows,
        share: c.share,
        state: c.state,
        drifted: c.features.filter((f) => f.drifted).map((f) => ({ feature: f.name, psi: f.psi, pValue: f.pValue })),
      })),
    };
    for (const n of spec.notify) {
      try {
        await sendNotification(n, { lines, fields }, { post: this.#d.post, secrets });
      } catch (err) {
        this.#d.log.warn('drift notification failed', { project, deployment: d.name, err });
      }
    }
  }
}

const pct = (share: number) => `${Math.round(share * 100)}%`;

/** A deployment's verdict from its arms' judged checks: drifted when any arm drifted, with what drifted. */
function verdict(judged: readonly DriftCheck[]): { drifted: boolean; message: string } {
  const drifted = judged.filter((c) => c.state === 'drifted');
  return {
    drifted: drifted.length > 0,
    message: (drifted.length ? drifted : judged)
      .map((c) => `${c.arm} (${c.model}@${c.modelVersion}): ${c.message}`)
      .join('; '),
  };
}
