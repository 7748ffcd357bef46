/**
 * OpenLineage RunEvents for pipeline runs, their steps and deployment rollouts, and their validation against the
 * official JSON schema (`./schemas/OpenLineage.json`, spec 2-0-2, and the facets' schemas beside it).
 *
 * Naming (https://openlineage.io/docs/spec/naming): jobs and datasets share the configured namespace (default
 * `modelport`); a pipeline is the job `<project>/<pipeline>`, a step `<project>/<pipeline>.<step>` (its run's
 * `parent` facet names the pipeline run), a deployment `<project>/deployments/<name>`. Datasets: a data commit is
 * `<project>/data/<repo>` and each tabular file `<project>/data/<repo>/<path>` (the `version` facet holds the commit
 * id, the `schema` facet the profiled columns), a model `<project>/models/<name>` (version: the model version), a
 * deployment's endpoint `<project>/deployments/<name>` (version: the revision).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { lazyPackage } from '../core/index.ts';
import type { DataCommit, FileProfile } from '../data/index.ts';
import type { Run, RunStep } from '../pipelines/index.ts';
import type { RevisionRecord } from './sources.ts';

const loadAjv2020 = lazyPackage<typeof import('ajv/dist/2020.js')>('ajv/dist/2020.js');
const loadFormats = lazyPackage<typeof import('ajv-formats')>('ajv-formats');

export const OPENLINEAGE_SCHEMA_URL = 'https://openlineage.io/spec/2-0-2/OpenLineage.json';
const EVENT_SCHEMA = `${OPENLINEAGE_SCHEMA_URL}#/$defs/RunEvent`;
const FACETS = 'https://openlineage.io/spec/facets';
const SCHEMAS = new URL('./schemas/', import.meta.url);

export type EventType = 'START' | 'RUNNING' | 'COMPLETE' | 'ABORT' | 'FAIL' | 'OTHER';

type Facet = { _producer: string; _schemaURL: string; [key: string]: unknown };

export interface OpenLineageDataset {
  namespace: string;
  name: string;
  facets?: Record<string, Facet>;
}

export interface OpenLineageRunEvent {
  eventType: EventType;
  eventTime: string;
  producer: string;
  schemaURL: string;
  run: { runId: string; facets?: Record<string, Facet> };
  job: { namespace: string; name: string; facets?: Record<string, Facet> };
  inputs: OpenLineageDataset[];
  outputs: OpenLineageDataset[];
}

export interface OpenLineageOptions {
  /** Namespace of jobs and datasets (default `modelport`). */
  namespace?: string;
  /** The producer URI every event and facet carries. */
  producer: string;
}

/** A data commit with the profiles of its tabular files, as a run's input. */
export interface CommitInput {
  commit: DataCommit;
  profiles: FileProfile[];
}

/** A stable UUID for a name (a step's or a rollout's run): version 5 style, from sha256. */
export function nameUuid(name: string): string {
  const b = createHash('sha256').update(name).digest();
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A pipeline run's id is a UUID already; anything else gets one derived from it. */
const runUuid = (id: string) => (UUID.test(id) ? id.toLowerCase() : nameUuid(`run:${id}`));

/** The terminal event type of a run or step state. */
export function eventTypeOf(state: string): EventType {
  if (state === 'Succeeded' || state === 'Skipped') return 'COMPLETE';
  if (state === 'Cancelled') return 'ABORT';
  if (state === 'Failed' || state === 'Blocked') return 'FAIL';
  return 'RUNNING';
}

export class OpenLineageEvents {
  readonly namespace: string;
  readonly #producer: string;

  constructor(options: OpenLineageOptions) {
    this.namespace = options.namespace ?? 'modelport';
    this.#producer = options.producer;
  }

  #facet(schema: string, fields: Record<string, unknown>): Facet {
    return { _producer: this.#producer, _schemaURL: schema, ...fields };
  }

  #event(
    eventType: EventType,
    eventTime: string,
    run: OpenLineageRunEvent['run'],
    job: OpenLineageRunEvent['job'],
    inputs: OpenLineageDataset[],
    outputs: OpenLineageDataset[],
  ): OpenLineageRunEvent {
    return { eventType, eventTime, producer: this.#producer, schemaURL: EVENT_SCHEMA, run, job, inputs, outputs };
  }

  #jobType(jobType: 'PIPELINE' | 'STEP' | 'DEPLOYMENT'): Record<string, Facet> {
    return {
      jobType: this.#facet(`${FACETS}/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet`, {
        processingType: jobType === 'DEPLOYMENT' ? 'SERVICE' : 'BATCH',
        integration: 'MODELPORT',
        jobType,
      }),
    };
  }

  #version(version: string): Record<string, Facet> {
    return {
      version: this.#facet(`${FACETS}/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet`, {
        datasetVersion: version,
      }),
    };
  }

  #error(message: string): Record<string, Facet> {
    return {
      errorMessage: this.#facet(`${FACETS}/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet`, {
        message,
        programmingLanguage: 'TypeScript',
      }),
    };
  }

  /**
   * The datasets of a data commit: the repository at that commit, and each tabular file, with its profiled columns
   * when `schemas` (a run's events carry them; its steps' name the same datasets without repeating them).
   */
  commitDatasets(project: string, input: CommitInput, schemas = true): OpenLineageDataset[] {
    const { commit } = input;
    const repo: OpenLineageDataset = {
      namespace: this.namespace,
      name: `${project}/data/${commit.repo}`,
      facets: this.#version(commit.id),
    };
    const files = input.profiles.map((p) => ({
      namespace: this.namespace,
      name: `${project}/data/${commit.repo}/${p.path}`,
      facets: {
        ...this.#version(commit.id),
        ...(schemas && p.profile
          ? {
              schema: this.#facet(`${FACETS}/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet`, {
                fields: p.profile.columns.map((c, i) => ({ name: c.name, type: c.type, ordinal_position: i + 1 })),
              }),
            }
          : {}),
      },
    }));
    return [repo, ...files];
  }

  modelDataset(project: string, model: string, version: number): OpenLineageDataset {
    return { namespace: this.namespace, name: `${project}/models/${model}`, facets: this.#version(String(version)) };
  }

  endpointDataset(project: string, deployment: string, revision: number): OpenLineageDataset {
    return {
      namespace: this.namespace,
      name: `${project}/deployments/${deployment}`,
      facets: this.#version(String(revision)),
    };
  }

  /** What a run, or one step of it, read and wrote: the commit's datasets in, registered models and deployments out. */
  #runOutputs(project: string, run: Run, step?: RunStep): OpenLineageDataset[] {
    const out: OpenLineageDataset[] = [];
    for (const s of step ? [step] : run.steps) {
      const r = s.result;
      if (r?.registered) out.push(this.modelDataset(project, r.registered.model, r.registered.version));
      if (r?.deployed) out.push(this.endpointDataset(project, r.deployed.deployment, r.deployed.revision));
    }
    return out;
  }

  /** The START event of a pipeline run, or of one of its steps. */
  runStart(project: string, run: Run, input: CommitInput | undefined, step?: RunStep): OpenLineageRunEvent {
    const time = (step ? step.startedAt : run.startedAt) ?? run.createdAt;
    return this.#event(
      'START',
      time,
      this.#run(project, run, step),
      this.#job(project, run, step),
      input ? this.commitDatasets(project, input, !step) : [],
      [],
    );
  }

  /** The end event (COMPLETE, FAIL or ABORT) of a finished run or step. */
  runEnd(project: string, run: Run, input: CommitInput | undefined, step?: RunStep): OpenLineageRunEvent {
    const state = step ? step.state : run.state;
    const reason = step ? step.reason : run.reason;
    const type = eventTypeOf(state);
    const r = this.#run(project, run, step);
    if (type !== 'COMPLETE' && reason) r.facets = { ...r.facets, ...this.#error(`${state}: ${reason}`) };
    return this.#event(
      type,
      (step ? step.finishedAt : run.finishedAt) ?? new Date().toISOString(),
      r,
      this.#job(project, run, step),
      input ? this.commitDatasets(project, input, !step) : [],
      type === 'COMPLETE' ? this.#runOutputs(project, run, step) : [],
    );
  }

  #run(project: string, run: Run, step?: RunStep): OpenLineageRunEvent['run'] {
    if (!step) return { runId: runUuid(run.id) };
    return {
      runId: nameUuid(`step:${run.id}/${step.name}`),
      facets: {
        parent: this.#facet(`${FACETS}/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet`, {
          run: { runId: runUuid(run.id) },
          job: { namespace: this.namespace, name: `${project}/${run.pipeline}` },
        }),
      },
    };
  }

  #job(project: string, run: Run, step?: RunStep): OpenLineageRunEvent['job'] {
    return {
      namespace: this.namespace,
      name: step ? `${project}/${run.pipeline}.${step.name}` : `${project}/${run.pipeline}`,
      facets: this.#jobType(step ? 'STEP' : 'PIPELINE'),
    };
  }

  /** A deployment revision rolling out: START, then COMPLETE when Ready or FAIL; its arms' versions in, the endpoint out. */
  rollout(
    project: string,
    deployment: string,
    revision: RevisionRecord,
    eventType: 'START' | 'COMPLETE' | 'FAIL',
    at: string,
    message?: string,
  ): OpenLineageRunEvent {
    const versions = [
      ...revision.targets.traffic.map((t) => [t.model, t.version] as const),
      ...(revision.targets.shadow ? [[revision.targets.shadow.model, revision.targets.shadow.version] as const] : []),
    ];
    const unique = [...new Map(versions.map(([m, v]) => [`${m}@${v}`, [m, v] as const])).values()];
    return this.#event(
      eventType,
      at,
      {
        runId: nameUuid(`rollout:${project}/${deployment}@${revision.revision}`),
        ...(eventType === 'FAIL' && message ? { facets: this.#error(message) } : {}),
      },
      { namespace: this.namespace, name: `${project}/deployments/${deployment}`, facets: this.#jobType('DEPLOYMENT') },
      unique.map(([m, v]) => this.modelDataset(project, m, v)),
      eventType === 'FAIL' ? [] : [this.endpointDataset(project, deployment, revision.revision)],
    );
  }
}

/** Checks events against the official schema and the schemas of the facets Modelport writes. */
export class OpenLineageValidator {
  readonly #event: ValidateFunction;
  readonly #facets = new Map<string, { validate: ValidateFunction; names: string[] }>();

  constructor() {
    const ajv = new (loadAjv2020().Ajv2020)({ strict: false, allErrors: true });
    loadFormats().default(ajv);
    const load = (file: string) => JSON.parse(readFileSync(new URL(file, SCHEMAS), 'utf8')) as { $id: string };
    const core = load('OpenLineage.json');
    ajv.addSchema(core);
    this.#event = ajv.compile({ $ref: EVENT_SCHEMA });
    for (const file of [
      'ParentRunFacet.json',
      'ErrorMessageRunFacet.json',
      'JobTypeJobFacet.json',
      'DatasetVersionDatasetFacet.json',
      'SchemaDatasetFacet.json',
    ]) {
      const schema = load(file) as { $id: string; properties: Record<string, unknown> };
      this.#facets.set(schema.$id, { validate: ajv.compile(schema), names: Object.keys(schema.properties) });
    }
  }

  /** The problems of one event (empty when valid): the event against RunEvent, each facet map against its schemas. */
  check(event: unknown): string[] {
    const problems: string[] = [];
    if (!this.#event(event)) problems.push(...describeErrors('', this.#event.errors));
    const e = event as Partial<OpenLineageRunEvent>;
    const maps: [string, Record<string, Facet> | undefined][] = [
      ['run.facets', e.run?.facets],
      ['job.facets', e.job?.facets],
      ...[...(e.inputs ?? []), ...(e.outputs ?? [])].map(
        (d, i) => [`datasets[${i}].facets`, d.facets] as [string, Record<string, Facet> | undefined],
      ),
    ];
    for (const [path, facets] of maps) {
      for (const [name, facet] of Object.entries(facets ?? {})) {
        const id = facet._schemaURL.split('#')[0]!;
        const known = this.#facets.get(id);
        if (!known?.names.includes(name)) {
          problems.push(`${path}.${name}: no known facet schema names '${name}' at ${facet._schemaURL}`);
          continue;
        }
        if (!known.validate({ [name]: facet })) problems.push(...describeErrors(path, known.validate.errors));
      }
    }
    return problems;
  }
}

function describeErrors(prefix: string, errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => `${prefix}${e.instancePath.replaceAll('/', '.')}: ${e.message ?? 'invalid'}`);
}
