/** Pipelines, runs and steps as the API, the client, the CLI and the console see them. */
import type { PipelineSpec } from './spec.ts';

export const RUN_STATES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Blocked', 'Cancelled', 'Skipped'] as const;
export type RunState = (typeof RUN_STATES)[number];
export const STEP_STATES = RUN_STATES;
export type StepState = RunState;
export const FINISHED: ReadonlySet<string> = new Set(['Succeeded', 'Failed', 'Blocked', 'Cancelled', 'Skipped']);

export interface PipelineRevision {
  revision: number;
  spec: PipelineSpec;
  code: { sha256: string; size: number } | null;
  /** `git:<commit>` when the folder applied was a git work tree. */
  codeRef: string | null;
  createdAt: string;
}

export interface Pipeline {
  project: string;
  name: string;
  revision: number;
  spec: PipelineSpec;
  code: { sha256: string; size: number } | null;
  codeRef: string | null;
  runs: number;
  lastRun: { id: string; number: number; state: RunState; createdAt: string } | null;
  createdAt: string;
  updatedAt: string;
}

/** What started a run. */
export type RunTrigger =
  | { kind: 'data'; event: number; repo: string; branch: string; commit: string }
  | { kind: 'model'; event: number; model: string; version: number; alias?: string | undefined }
  | { kind: 'schedule'; tick: string; repo?: string; commit?: string }
  | { kind: 'manual'; by: string; repo?: string; commit?: string }
  | { kind: 'webhook'; delivery: string; event?: string | undefined; repo?: string; commit?: string };

export interface StepResult {
  /** gate and canary rules: the policy's verdict in words, with every value read. */
  policy?: {
    expression: string;
    passed: boolean;
    explanation: string;
    values: { path: string; value: unknown }[];
  };
  registered?: { model: string; version: number; ref: string };
  deployed?: { deployment: string; url: string; revision: number; canary?: { weight: number; promoted: boolean } };
  notified?: { url: string; status: number };
  confusion?: [[number, number], [number, number]];
  rows?: number;
}

export interface RunStep {
  name: string;
  kind: string;
  needs: string[];
  state: StepState;
  reason: string | null;
  attempt: number;
  restarts: number;
  exitCode: number | null;
  outputs: string[];
  metrics: Record<string, number>;
  result: StepResult | null;
  log: { size: number; cut: boolean } | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface RunSummary {
  state: RunState;
  metrics: Record<string, number>;
  gate: { passed: boolean; expression: string; explanation: string } | null;
  registered: string | null;
  deployed: string | null;
  reason: string | null;
  durationMs: number | null;
}

export interface Run {
  id: string;
  project: string;
  pipeline: string;
  number: number;
  revision: number;
  state: RunState;
  reason: string | null;
  trigger: RunTrigger;
  params: Record<string, string>;
  attempt: number;
  steps: RunStep[];
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** A run, or one of its steps, started or ended (read the run for its state): what `RunEngineOptions.onLifecycle` hears. */
export interface RunLifecycleEvent {
  project: string;
  run: string;
  step?: string;
  phase: 'start' | 'end';
}
