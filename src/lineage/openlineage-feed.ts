/**
 * Turns what the pipelines' run engine and the deployments' reconciler report (a run or step started or ended, a
 * revision rolling out, Ready or failed) into OpenLineage events on the emitter's queue. The hooks only enqueue: the
 * run and its commit are read when the queue reaches the event.
 */
import type { RolloutEvent } from '../deployments/index.ts';
import type { Run, RunLifecycleEvent } from '../pipelines/index.ts';
import type { CommitInput, OpenLineageEvents } from './openlineage.ts';
import type { OpenLineageEmitter } from './openlineage-emitter.ts';
import type { LineageSources } from './sources.ts';

const TABULAR = /\.(csv|tsv|jsonl|ndjson|parquet)$/i;

/** The triggering commit of a run with the profiles of its tabular files, or undefined when the run has none. */
export async function commitInputOf(
  sources: Pick<LineageSources, 'data'>,
  project: string,
  run: Run,
): Promise<CommitInput | undefined> {
  const t = run.trigger;
  if (!('repo' in t) || !t.repo || !('commit' in t) || !t.commit) return undefined;
  const { commit, entries } = await sources.data.tree(project, t.repo, t.commit, '', true);
  const files = entries.filter((e) => e.type === 'file' && TABULAR.test(e.path)).slice(0, 50);
  const profiles = await Promise.all(files.map((f) => sources.data.profile(project, t.repo!, commit.id, f.path)));
  return { commit, profiles };
}

export class OpenLineageFeed {
  readonly #sources: Pick<LineageSources, 'data' | 'runs' | 'deployments'>;
  readonly #events: OpenLineageEvents;
  readonly #emitter: OpenLineageEmitter;
  /** The commit input of recent runs: every step's events carry it. */
  readonly #inputs = new Map<string, Promise<CommitInput | undefined>>();

  constructor(
    sources: Pick<LineageSources, 'data' | 'runs' | 'deployments'>,
    events: OpenLineageEvents,
    emitter: OpenLineageEmitter,
  ) {
    this.#sources = sources;
    this.#events = events;
    this.#emitter = emitter;
  }

  /** For `RunEngineOptions.onLifecycle`. */
  readonly runLifecycle = (e: RunLifecycleEvent): void => {
    this.#emitter.enqueue(async () => {
      const run = await this.#sources.runs.getRun(e.project, e.run);
      const input = await this.#input(e.project, run);
      if (e.step === undefined) {
        if (e.phase === 'end') this.#inputs.delete(run.id);
        return [
          e.phase === 'start'
            ? this.#events.runStart(e.project, run, input)
            : this.#events.runEnd(e.project, run, input),
        ];
      }
      const step = run.steps.find((s) => s.name === e.step);
      if (!step) return [];
      return [
        e.phase === 'start'
          ? this.#events.runStart(e.project, run, input, step)
          : this.#events.runEnd(e.project, run, input, step),
      ];
    });
  };

  /** For `DeploymentServiceOptions.onRollout`. */
  readonly rollout = (e: RolloutEvent): void => {
    this.#emitter.enqueue(async () => {
      const revision = (await this.#sources.deployments.revisions(e.project, e.name)).find(
        (r) => r.revision === e.revision,
      );
      if (!revision) return [];
      const type = e.phase === 'start' ? 'START' : e.phase === 'complete' ? 'COMPLETE' : 'FAIL';
      return [this.#events.rollout(e.project, e.name, revision, type, e.at, e.message)];
    });
  };

  #input(project: string, run: Run): Promise<CommitInput | undefined> {
    let input = this.#inputs.get(run.id);
    if (!input) {
      input = commitInputOf(this.#sources, project, run);
      this.#inputs.set(run.id, input);
      // Bounded: a run that never ends (a server stopped mid-run) leaves at most this many behind.
      if (this.#inputs.size > 200) this.#inputs.delete(this.#inputs.keys().next().value!);
    }
    return input;
  }
}
