/**
 * The executor contract: runs one step's command somewhere and reports how it ended. Implementations:
 * `LocalExecutor` (child processes on this machine) and `KubernetesExecutor` (a batch/v1 Job per step). Both pass
 * one conformance suite (executors/executor.conformance.ts).
 *
 * The runner prepares the step's folders (the commit's files, a fresh copy of the pipeline's code, an empty output
 * folder) and collects the outputs afterwards; an executor only runs the command with them and streams its log.
 */

export interface StepLaunch {
  /** Unique per attempt (`<run id>-<step>-<attempt>`): names the process group or the Job. */
  id: string;
  /** Labels for the Job and the log lines. */
  pipeline: string;
  run: string;
  step: string;
  /** Run by `/bin/sh -c` in `folders.work`. */
  command: string;
  /** Environment of the command, the MODELPORT_* folders and secrets included. */
  env: Record<string, string>;
  /** Container image (Kubernetes). */
  image: string;
  timeoutMs: number;
  /** Memory limit in bytes; see each executor for how (and whether) it is enforced. */
  memoryBytes?: number | undefined;
  /** CPU request/limit (Kubernetes quantity, `500m` or `2`). */
  cpu?: string | undefined;
  /** Local folders: the commit's files (read-only), the code copy, the output folder. */
  folders: { input: string; work: string; output: string };
  /** Called with every chunk the command writes on stdout or stderr, in order. */
  onLog(chunk: Buffer): void;
}

export interface StepExit {
  /** The command's exit code; null when it was killed or never ran. */
  exitCode: number | null;
  /** Why it ended other than by exiting 0: `timed out after 30 s`, `cancelled`, `exited with code 3`, `killed by SIGKILL`. */
  reason: string | null;
  timedOut: boolean;
  cancelled: boolean;
}

export interface StepExecution {
  /** Settles when the step has ended and nothing of it runs any more. Never rejects. */
  readonly done: Promise<StepExit>;
  /** Kills the step (its whole process tree, or deletes its Job); `done` then settles with `cancelled`. */
  cancel(): void;
}

export interface StepExecutor {
  readonly name: 'local' | 'kubernetes';
  start(launch: StepLaunch): StepExecution;
  /** Releases what the executor holds (clients, timers); running steps are cancelled first by the runner. */
  close?(): Promise<void>;
}

/** Seconds in words for reasons. */
export function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
