/**
 * The lineage query: from one thing (a logged request, a deployment revision, a model version, a pipeline run or a
 * data commit) to the graph of what made it (upstream: prediction -> revision -> arm -> version -> run and steps ->
 * data commit and profiles, gates and scans) and of what it reached (downstream: commit -> runs -> versions ->
 * revisions -> predictions). Everything is read through `LineageSources`; nothing is stored here.
 *
 * ```ts
 * const lineage = new LineageService(sources);
 * const graph = await lineage.query('default', 'model:fraud@2');   // or 'transactions@main', 'fraud-train#1', ...
 * ```
 */
import { ModelportError } from '../core/index.ts';
import type { DataCommit } from '../data/index.ts';
import type { Deployment } from '../deployments/index.ts';
import type { Run, RunStep } from '../pipelines/index.ts';
import type { ModelVersion } from '../registry/index.ts';
import type { OpenLineageEvents, OpenLineageRunEvent } from './openlineage.ts';
import { commitInputOf } from './openlineage-feed.ts';
import type { LineageSources, PredictionCount, PredictionRecord, RevisionRecord, ScanResult } from './sources.ts';
import type { Direction, LineageEdge, LineageGraph, LineageNode, NodeKind } from './types.ts';

export interface LineageServiceOptions {
  /** At most this many runs, versions or revisions per list (default 50); beyond it the graph says `truncated`. */
  limit?: number;
}

/** The kinds a query may name with a prefix (`model:fraud@2`); without one the query's shape picks. */
const PREFIXES = {
  request: 'prediction',
  deployment: 'deployment',
  model: 'version',
  run: 'run',
  data: 'commit',
  commit: 'commit',
} as const satisfies Record<string, NodeKind>;
type SubjectKind = (typeof PREFIXES)[keyof typeof PREFIXES];

const FINISHED: ReadonlySet<string> = new Set(['Succeeded', 'Failed', 'Blocked', 'Cancelled', 'Skipped']);
const TABULAR = /\.(csv|tsv|jsonl|ndjson|parquet)$/i;
const FIELD = 'of';

type Subject =
  | { kind: 'prediction'; records: PredictionRecord[] }
  | { kind: 'deployment'; deployment: Deployment; revision: RevisionRecord }
  | { kind: 'version'; version: ModelVersion }
  | { kind: 'run'; run: Run }
  | { kind: 'commit'; commit: DataCommit };

const isMissing = (error: unknown) =>
  error instanceof ModelportError && (error.code === 'not_found' || error.code === 'invalid_request');

export class LineageService {
  readonly #s: LineageSources;
  readonly #limit: number;

  constructor(sources: LineageSources, options: LineageServiceOptions = {}) {
    this.#s = sources;
    this.#limit = options.limit ?? 50;
  }

  /** The graph around `query`; `not_found` naming the field `of` when it names nothing in the project. */
  async query(project: string, query: string, direction: Direction = 'both'): Promise<LineageGraph> {
    return (await this.#walk(project, query, direction)).graph;
  }

  /**
   * The OpenLineage RunEvents of the runs, steps and deployment rollouts in the graph of `query`, in time order: what
   * the emitter would have sent (`modelport lineage <x> --format openlineage`). A past revision's rollout is dated
   * by its creation (when it turned Ready is kept only for the current one).
   */
  async openLineage(
    project: string,
    query: string,
    direction: Direction,
    events: OpenLineageEvents,
  ): Promise<OpenLineageRunEvent[]> {
    const { walk } = await this.#walk(project, query, direction);
    const out: OpenLineageRunEvent[] = [];
    for (const run of walk.runs.values()) {
      const input = await commitInputOf(this.#s, project, run);
      out.push(events.runStart(project, run, input));
      for (const step of run.steps) {
        if (!step.startedAt) continue;
        out.push(events.runStart(project, run, input, step));
        if (FINISHED.has(step.state) && step.finishedAt) out.push(events.runEnd(project, run, input, step));
      }
      if (FINISHED.has(run.state) && run.finishedAt) out.push(events.runEnd(project, run, input));
    }
    for (const { deployment, revision } of walk.revisions.values()) {
      out.push(events.rollout(project, deployment.name, revision, 'START', revision.createdAt));
      if (revision.revision !== deployment.currentRevision) {
        out.push(events.rollout(project, deployment.name, revision, 'COMPLETE', revision.createdAt));
        continue;
      }
      const failed = deployment.status.conditions.find((c) => c.type === 'Failed' && c.status === 'True');
      const ready = deployment.status.conditions.find((c) => c.type === 'Ready' && c.status === 'True');
      if (failed) {
        const message = failed.message ?? failed.reason ?? 'failed';
        out.push(events.rollout(project, deployment.name, revision, 'FAIL', failed.lastTransitionTime, message));
      } else if (ready) {
        out.push(events.rollout(project, deployment.name, revision, 'COMPLETE', ready.lastTransitionTime));
      }
    }
    // Stable: a run's START stays before its steps' events when they share a millisecond.
    return out
      .map((event, i) => ({ event, i }))
      .sort((a, b) => a.event.eventTime.localeCompare(b.event.eventTime) || a.i - b.i)
      .map((x) => x.event);
  }

  async #walk(project: string, query: string, direction: Direction): Promise<{ graph: LineageGraph; walk: Walk }> {
    const subject = await this.#resolve(project, query.trim());
    const walk = new Walk(project, this.#s, this.#limit);
    const up = direction !== 'down';
    const down = direction !== 'up';
    let node: string;
    switch (subject.kind) {
      case 'prediction': {
        const [first] = subject.records;
        node = await walk.prediction(first!, up);
        for (const other of subject.records.slice(1)) await walk.prediction(other, up);
        break;
      }
      case 'deployment':
        node = await walk.revision(subject.deployment, subject.revision, { up, down });
        break;
      case 'version':
        node = await walk.version(subject.version, { up, down });
        break;
      case 'run':
        node = await walk.run(subject.run, { up, down });
        break;
      case 'commit':
        node = await walk.commit(subject.commit, { up, down });
        break;
    }
    const graph: LineageGraph = {
      project,
      subject: { query, kind: walk.get(node).kind, node },
      direction,
      nodes: [...walk.nodes.values()],
      edges: [...walk.edges.values()],
      truncated: walk.truncated,
    };
    return { graph, walk };
  }

  async #resolve(project: string, query: string): Promise<Subject> {
    if (query === '') throw new ModelportError('invalid_request', `${FIELD}: name what to trace`, { field: FIELD });
    const colon = query.indexOf(':');
    const prefix = colon > 0 ? query.slice(0, colon) : '';
    if (Object.hasOwn(PREFIXES, prefix)) {
      const kind = PREFIXES[prefix as keyof typeof PREFIXES];
      const value = query.slice(colon + 1);
      const found = await this.#try(project, kind, value);
      if (found) return found;
      throw new ModelportError('not_found', `${FIELD}: ${describe(kind, value)} not found in project '${project}'`, {
        field: FIELD,
      });
    }
    const kinds: SubjectKind[] = query.includes('#')
      ? ['run']
      : query.includes('@')
        ? ['commit', 'version', 'deployment']
        : ['deployment', 'run', 'prediction'];
    const found: Subject[] = [];
    for (const kind of kinds) {
      const subject = await this.#try(project, kind, query);
      if (subject) found.push(subject);
    }
    if (found.length === 1) return found[0]!;
    if (found.length > 1) {
      const names = found.map((f) => `${describe(f.kind, query)} (write ${prefixOf(f.kind)}:${query})`);
      throw new ModelportError('invalid_request', `${FIELD}: '${query}' names ${names.join(' and ')}; say which`, {
        field: FIELD,
      });
    }
    throw new ModelportError(
      'not_found',
      `${FIELD}: '${query}' names no ${kinds.map((k) => describe(k)).join(', no ')} in project '${project}'` +
        ` (forms: <request-id>, <deployment>[@<revision>], <model>@<version>, <run id or pipeline#number>, <repo>@<commit>)`,
      { field: FIELD },
    );
  }

  /** The subject `value` names as `kind`, or undefined when it names none. */
  async #try(project: string, kind: SubjectKind, value: string): Promise<Subject | undefined> {
    try {
      switch (kind) {
        case 'version':
          if (!value.includes('@')) return undefined;
          return { kind, version: await this.#s.models.getVersion(project, value) };
        case 'deployment': {
          const at = value.lastIndexOf('@');
          const name = at < 0 ? value : value.slice(0, at);
          const wanted = at < 0 ? undefined : value.slice(at + 1);
          if (wanted !== undefined && !/^[1-9]\d{0,8}$/.test(wanted)) return undefined;
          const deployment = await this.#s.deployments.get(project, name);
          const number = wanted === undefined ? deployment.currentRevision : Number(wanted);
          const revision = (await this.#s.deployments.revisions(project, name)).find((r) => r.revision === number);
          return revision ? { kind, deployment, revision } : undefined;
        }
        case 'run':
          return { kind, run: await this.#s.runs.getRun(project, value) };
        case 'commit': {
          const at = value.indexOf('@');
          if (at < 0) return undefined;
          return { kind, commit: await this.#s.data.resolveCommit(project, value.slice(0, at), value.slice(at + 1)) };
        }
        case 'prediction': {
          if (!this.#s.predictions) return undefined;
          const records = await this.#s.predictions.get(project, value);
          return records.length > 0 ? { kind, records } : undefined;
        }
      }
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }
}

function describe(kind: SubjectKind, value?: string): string {
  const what = {
    prediction: 'logged request',
    deployment: 'deployment revision',
    version: 'model version',
    run: 'pipeline run',
    commit: 'data commit',
  }[kind];
  return value === undefined ? what : `${what} '${value}'`;
}

const prefixOf = (kind: SubjectKind) => (kind === 'prediction' ? 'request' : kind === 'version' ? 'model' : kind);

const short = (id: string) => id.slice(0, 12);

/** One query's walk: the nodes and edges found so far, each thing expanded once per direction. */
class Walk {
  readonly nodes = new Map<string, LineageNode>();
  readonly edges = new Map<string, LineageEdge>();
  truncated = false;
  /** The runs and revisions met, for the OpenLineage export. */
  readonly runs = new Map<string, Run>();
  readonly revisions = new Map<string, { deployment: Deployment; revision: RevisionRecord }>();
  readonly #done = new Set<string>();
  readonly #project: string;
  readonly #s: LineageSources;
  readonly #limit: number;
  readonly #predictionCounts = new Map<string, Promise<PredictionCount[]>>();
  #deployments: Promise<{ deployment: Deployment; revisions: RevisionRecord[] }[]> | undefined;

  constructor(project: string, sources: LineageSources, limit: number) {
    this.#project = project;
    this.#s = sources;
    this.#limit = limit;
  }

  get(id: string): LineageNode {
    return this.nodes.get(id)!;
  }

  #node(node: LineageNode): string {
    if (!this.nodes.has(node.id)) this.nodes.set(node.id, node);
    return node.id;
  }

  #edge(from: string, to: string, relation: string): void {
    this.edges.set(`${from}>${to}`, { from, to, relation });
  }

  /** True the first time `key` is expanded. */
  #first(key: string): boolean {
    if (this.#done.has(key)) return false;
    this.#done.add(key);
    return true;
  }

  #cut<T>(list: T[]): T[] {
    if (list.length <= this.#limit) return list;
    this.truncated = true;
    return list.slice(0, this.#limit);
  }

  // Nodes

  async prediction(record: PredictionRecord, up: boolean): Promise<string> {
    const id = this.#node({
      id: `prediction:${record.requestId}/${record.arm}`,
      kind: 'prediction',
      label: `request ${record.requestId}${record.arm === 'shadow' ? ' (shadow)' : ''}`,
      state: record.status,
      time: record.time,
      link: `/deployments/${encodeURIComponent(record.deployment)}`,
      detail: {
        deployment: record.deployment,
        revision: record.revision,
        arm: record.arm,
        model: `${record.model}@${record.modelVersion}`,
        protocol: record.protocol,
        prediction: record.prediction,
        totalMs: record.totalMs,
      },
    });
    if (!up) return id;
    let deployment: Deployment;
    try {
      deployment = await this.#s.deployments.get(this.#project, record.deployment);
    } catch (error) {
      if (isMissing(error)) return id; // the deployment was deleted since; the record still names the version
      throw error;
    }
    const revision = (await this.#s.deployments.revisions(this.#project, record.deployment)).find(
      (r) => r.revision === record.revision,
    );
    if (!revision) return id;
    const rev = await this.revision(deployment, revision, { up: true, down: false, arm: record.arm });
    this.#edge(rev, id, 'answered');
    return id;
  }

  async revision(
    deployment: Deployment,
    revision: RevisionRecord,
    how: { up: boolean; down: boolean; arm?: string },
  ): Promise<string> {
    const name = deployment.name;
    this.revisions.set(`${name}@${revision.revision}`, { deployment, revision });
    const id = this.#node({
      id: `deployment:${name}@${revision.revision}`,
      kind: 'deployment',
      label: `${name} revision ${revision.revision}`,
      state:
        deployment.status.servingRevision === revision.revision
          ? 'serving'
          : deployment.currentRevision === revision.revision
            ? 'current'
            : 'past',
      time: revision.createdAt,
      link: `/deployments/${encodeURIComponent(name)}`,
      detail: {
        deployment: name,
        revision: revision.revision,
        arms: armsOf(revision)
          .map((a) => `${a.arm} ${a.model}@${a.version} ${a.share}`)
          .join(', '),
      },
    });
    for (const arm of armsOf(revision)) {
      if (how.arm !== undefined && arm.arm !== how.arm) continue;
      const armId = this.#node({
        id: `arm:${name}@${revision.revision}/${arm.arm}`,
        kind: 'arm',
        label: `${arm.arm} ${arm.share} · rev ${revision.revision}`,
        state: null,
        time: null,
        link: `/deployments/${encodeURIComponent(name)}`,
        detail: { ref: arm.ref, model: arm.model, version: arm.version, share: arm.share },
      });
      this.#edge(armId, id, 'arm of');
      if (how.up && this.#first(`up:${armId}`)) {
        try {
          const version = await this.#s.models.getVersion(this.#project, `${arm.model}@${arm.version}`);
          const v = await this.version(version, { up: true, down: false });
          this.#edge(v, armId, 'serves in');
        } catch (error) {
          if (!isMissing(error)) throw error;
          this.nodes.get(armId)!.detail['missing'] = `version ${arm.model}@${arm.version} was deleted`;
        }
      }
    }
    if (how.down && this.#first(`down:${id}`) && this.#s.predictions) {
      for (const count of await this.#counts(name, revision.revision)) {
        const p = this.#node({
          id: `predictions:${name}@${revision.revision}/${count.arm}`,
          kind: 'predictions',
          label: `${count.count} prediction${count.count === 1 ? '' : 's'} (${count.arm})`,
          state: null,
          time: count.last,
          link: `/deployments/${encodeURIComponent(name)}`,
          detail: { arm: count.arm, count: count.count, first: count.first, last: count.last },
        });
        const armId = `arm:${name}@${revision.revision}/${count.arm}`;
        this.#edge(this.nodes.has(armId) ? armId : id, p, 'answered');
      }
    }
    return id;
  }

  async version(version: ModelVersion, how: { up: boolean; down: boolean }): Promise<string> {
    const ref = `${version.model}@${version.version}`;
    const metrics = Object.fromEntries(
      Object.entries(version.metrics)
        .slice(0, 12)
        .map(([k, v]) => [`metric.${k}`, v]),
    );
    const id = this.#node({
      id: `version:${ref}`,
      kind: 'version',
      label: ref,
      state: version.aliases.length > 0 ? version.aliases.join(', ') : null,
      time: version.createdAt,
      link: `/models/${encodeURIComponent(version.model)}`,
      detail: {
        sha256: version.sha256,
        format: version.format,
        source: version.lineage.source,
        dataCommit: version.lineage.dataCommit,
        pipelineRun: version.lineage.pipelineRun,
        ...(version.tags['code'] ? { code: version.tags['code'] } : {}),
        ...metrics,
      },
    });
    if (how.up && this.#first(`up:${id}`)) {
      if (version.lineage.pipelineRun) {
        try {
          const run = await this.#s.runs.getRun(this.#project, version.lineage.pipelineRun);
          await this.run(run, { up: true, down: false });
          const step = run.steps.find(
            (s) => s.result?.registered?.model === version.model && s.result.registered.version === version.version,
          );
          this.#edge(step ? stepId(run, step) : `run:${run.id}`, id, 'registered');
        } catch (error) {
          if (!isMissing(error)) throw error;
          this.nodes.get(id)!.detail['pipelineRunMissing'] = true;
        }
      }
      const data = version.lineage.dataCommit;
      const at = data?.indexOf('@') ?? -1;
      if (data && at > 0) {
        try {
          const commit = await this.#s.data.resolveCommit(this.#project, data.slice(0, at), data.slice(at + 1));
          const c = await this.commit(commit, { up: true, down: false });
          this.#edge(c, id, 'trained on');
        } catch (error) {
          if (!isMissing(error)) throw error;
        }
      }
      if (this.#s.scans) {
        for (const scan of await this.#s.scans.ofVersion(this.#project, version.model, version.version)) {
          this.#edge(id, this.#scan(scan), 'scanned');
        }
      }
    }
    if (how.down && this.#first(`down:${id}`)) {
      const reached: { deployment: Deployment; revision: RevisionRecord }[] = [];
      for (const { deployment, revisions } of await this.#allRevisions()) {
        for (const revision of revisions) {
          if (armsOf(revision).some((a) => a.model === version.model && a.version === version.version)) {
            reached.push({ deployment, revision });
          }
        }
      }
      for (const { deployment, revision } of this.#cut(reached)) {
        await this.revision(deployment, revision, { up: false, down: true });
        for (const arm of armsOf(revision)) {
          if (arm.model === version.model && arm.version === version.version) {
            this.#edge(id, `arm:${deployment.name}@${revision.revision}/${arm.arm}`, 'serves in');
          }
        }
      }
    }
    return id;
  }

  async run(run: Run, how: { up: boolean; down: boolean }): Promise<string> {
    this.runs.set(run.id, run);
    const id = this.#node({
      id: `run:${run.id}`,
      kind: 'run',
      label: `${run.pipeline} #${run.number}`,
      state: run.state,
      time: run.startedAt ?? run.createdAt,
      link: `/runs/${run.id}`,
      detail: {
        id: run.id,
        pipeline: run.pipeline,
        revision: run.revision,
        trigger: run.trigger.kind,
        reason: run.reason,
        finishedAt: run.finishedAt,
      },
    });
    if (this.#first(`steps:${id}`)) {
      for (const step of run.steps) {
        const s = this.#node({
          id: stepId(run, step),
          kind: 'step',
          label: `${step.name} (${step.kind})`,
          state: step.state,
          time: step.startedAt,
          link: `/runs/${run.id}`,
          detail: {
            kind: step.kind,
            reason: step.reason,
            ...(step.result?.policy
              ? {
                  gate: step.result.policy.expression,
                  passed: step.result.policy.passed,
                  explanation: step.result.policy.explanation,
                }
              : {}),
            ...(step.exitCode !== null ? { exitCode: step.exitCode } : {}),
            ...Object.fromEntries(
              Object.entries(step.metrics)
                .slice(0, 8)
                .map(([k, v]) => [`metric.${k}`, v]),
            ),
          },
        });
        this.#edge(id, s, 'ran');
      }
    }
    if (how.up && this.#first(`up:${id}`)) {
      const t = run.trigger;
      if ('repo' in t && t.repo && 'commit' in t && t.commit) {
        try {
          const commit = await this.#s.data.resolveCommit(this.#project, t.repo, t.commit);
          this.#edge(await this.commit(commit, { up: true, down: false }), id, 'triggered');
        } catch (error) {
          if (!isMissing(error)) throw error;
        }
      }
      if (t.kind === 'model') {
        try {
          const version = await this.#s.models.getVersion(this.#project, `${t.model}@${t.version}`);
          this.#edge(await this.version(version, { up: true, down: false }), id, 'triggered');
        } catch (error) {
          if (!isMissing(error)) throw error;
        }
      }
    }
    if (how.down && this.#first(`down:${id}`)) {
      const versions = await this.#s.models.versionsFrom(this.#project, { pipelineRun: run.id });
      for (const version of this.#cut(versions)) {
        const v = await this.version(version, { up: false, down: true });
        const step = run.steps.find(
          (s) => s.result?.registered?.model === version.model && s.result.registered.version === version.version,
        );
        this.#edge(step ? stepId(run, step) : id, v, 'registered');
      }
    }
    return id;
  }

  async commit(commit: DataCommit, how: { up: boolean; down: boolean }): Promise<string> {
    const id = this.#node({
      id: `commit:${commit.repo}@${commit.id}`,
      kind: 'commit',
      label: `${commit.repo}@${short(commit.id)}`,
      state: null,
      time: commit.createdAt,
      link: `/data/${encodeURIComponent(commit.repo)}/commits/${commit.id}`,
      detail: {
        id: commit.id,
        branch: commit.branch,
        message: commit.message,
        author: commit.author,
        files: commit.files,
        size: commit.size,
      },
    });
    if (this.#first(`profiles:${id}`)) {
      const { entries } = await this.#s.data.tree(this.#project, commit.repo, commit.id, '', true);
      const tabular = entries.filter((e) => e.type === 'file' && TABULAR.test(e.path));
      for (const entry of this.#cut(tabular)) {
        const profile = await this.#s.data.profile(this.#project, commit.repo, commit.id, entry.path);
        const p = this.#node({
          id: `profile:${commit.repo}@${commit.id}/${entry.path}`,
          kind: 'profile',
          label: entry.path,
          state: profile.state,
          time: profile.updatedAt,
          link: `/data/${encodeURIComponent(commit.repo)}/commits/${commit.id}/profile?path=${encodeURIComponent(entry.path)}`,
          detail: {
            format: profile.format,
            sha256: profile.sha256,
            rows: profile.profile?.rows ?? null,
            columns: profile.profile?.columns.length ?? null,
            error: profile.error,
          },
        });
        this.#edge(id, p, 'profiled');
      }
      if (this.#s.scans) {
        for (const scan of await this.#s.scans.ofCommit(this.#project, commit.repo, commit.id)) {
          this.#edge(id, this.#scan(scan), 'scanned');
        }
      }
    }
    if (how.down && this.#first(`down:${id}`)) {
      for (const run of this.#cut(await this.#s.runs.runsOfCommit(this.#project, commit.repo, commit.id))) {
        this.#edge(id, await this.run(run, { up: false, down: true }), 'triggered');
      }
      const versions = await this.#s.models.versionsFrom(this.#project, {
        dataCommit: `${commit.repo}@${commit.id}`,
      });
      for (const version of this.#cut(versions)) {
        this.#edge(id, await this.version(version, { up: false, down: true }), 'trained on');
      }
    }
    return id;
  }

  #scan(scan: ScanResult): string {
    return this.#node({
      id: `scan:${scan.id}`,
      kind: 'scan',
      label: scan.name,
      state: scan.state,
      time: scan.time,
      link: scan.link,
      detail: scan.detail,
    });
  }

  /** The logged predictions of a revision, per arm: the payload log is asked once per deployment and query. */
  async #counts(deployment: string, revision: number): Promise<PredictionCount[]> {
    let counts = this.#predictionCounts.get(deployment);
    if (!counts) {
      counts = this.#s.predictions!.count(this.#project, deployment);
      this.#predictionCounts.set(deployment, counts);
    }
    return (await counts).filter((c) => c.revision === revision);
  }

  /** Every deployment of the project with its revisions, read once per query. */
  #allRevisions(): Promise<{ deployment: Deployment; revisions: RevisionRecord[] }[]> {
    this.#deployments ??= (async () => {
      const deployments = await this.#s.deployments.list(this.#project);
      return Promise.all(
        deployments.map(async (deployment) => ({
          deployment,
          revisions: await this.#s.deployments.revisions(this.#project, deployment.name),
        })),
      );
    })();
    return this.#deployments;
  }
}

const stepId = (run: Run, step: RunStep) => `step:${run.id}/${step.name}`;

/** A revision's traffic arms: each target (by its tag, `primary` when untagged) and the shadow. */
function armsOf(revision: RevisionRecord) {
  const total = revision.targets.traffic.reduce((sum, t) => sum + t.weight, 0) || 1;
  const arms = revision.targets.traffic.map((t) => ({
    arm: t.tag ?? 'primary',
    ref: t.ref,
    model: t.model,
    version: t.version,
    share: `${Math.round((t.weight / total) * 1000) / 10}%`,
  }));
  const shadow = revision.targets.shadow;
  if (shadow) {
    arms.push({
      arm: 'shadow',
      ref: shadow.ref,
      model: shadow.model,
      version: shadow.version,
      share: `${shadow.percent}% mirrored`,
    });
  }
  return arms;
}
