/**
 * Concurrency-based autoscaling, as Knative's autoscaler does it in spirit: the replicas a unit needs are the peak
 * in-flight requests over the last window divided by the target concurrency per replica. Scale up at once; scale
 * down only after the need has stayed lower for `scaleDownDelayMs`; scale to zero (when `minReplicas` is 0) after
 * `idleTimeoutMs` without a request. `decide` is pure; `Autoscaler` applies it on a timer.
 */
import type { CompiledScaling } from './spec.ts';

export interface ScaleState {
  /** Since when the observed need has been below the current replicas (for the scale-down delay). */
  belowSince: number | undefined;
}

export interface Observation {
  current: number;
  /** Peak concurrent requests since the last decision. */
  peakActive: number;
  /** Requests in flight right now. */
  active: number;
  /** When the last request arrived (ms since the epoch). */
  lastUsed: number;
}

export function decide(scaling: CompiledScaling, observed: Observation, state: ScaleState, now: number): number {
  const need = Math.ceil(observed.peakActive / scaling.targetConcurrency);
  const floor =
    scaling.minReplicas === 0 && observed.active === 0 && now - observed.lastUsed >= scaling.idleTimeoutMs
      ? 0
      : Math.max(scaling.minReplicas, 1);
  const desired = Math.min(scaling.maxReplicas, Math.max(floor, need));
  if (desired >= observed.current) {
    state.belowSince = undefined;
    return desired > observed.current ? desired : observed.current;
  }
  if (desired === 0) {
    state.belowSince = undefined;
    return 0;
  }
  state.belowSince ??= now;
  if (now - state.belowSince >= scaling.scaleDownDelayMs) {
    state.belowSince = undefined;
    return desired;
  }
  return observed.current;
}

/** A unit the autoscaler manages: how to observe it and how to scale it. */
export interface ScalableUnit {
  scaling: CompiledScaling;
  observe(): Observation;
  scaleTo(replicas: number): void;
}

export class Autoscaler {
  readonly #units = new Map<string, { unit: ScalableUnit; state: ScaleState }>();
  readonly #timer: NodeJS.Timeout;

  constructor(tickMs = 500, now: () => number = Date.now) {
    this.#timer = setInterval(() => this.tick(now()), tickMs);
    this.#timer.unref();
  }

  set(key: string, unit: ScalableUnit): void {
    const existing = this.#units.get(key);
    this.#units.set(key, { unit, state: existing?.state ?? { belowSince: undefined } });
  }

  delete(key: string): void {
    this.#units.delete(key);
  }

  tick(now: number): void {
    for (const { unit, state } of this.#units.values()) {
      const observed = unit.observe();
      const next = decide(unit.scaling, observed, state, now);
      if (next !== observed.current) unit.scaleTo(next);
    }
  }

  close(): void {
    clearInterval(this.#timer);
    this.#units.clear();
  }
}
