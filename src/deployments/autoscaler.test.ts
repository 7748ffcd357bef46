import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide, type ScaleState } from './autoscaler.ts';
import type { CompiledScaling } from './spec.ts';

const scaling: CompiledScaling = {
  minReplicas: 1,
  maxReplicas: 4,
  targetConcurrency: 10,
  scaleDownDelayMs: 1000,
  idleTimeoutMs: 5000,
};
const observe = (current: number, peakActive: number, lastUsed = 0, active = 0) => ({
  current,
  peakActive,
  active,
  lastUsed,
});

test('scales up at once to peak / target, capped at the maximum', () => {
  const state: ScaleState = { belowSince: undefined };
  assert.equal(decide(scaling, observe(1, 25), state, 0), 3);
  assert.equal(decide(scaling, observe(1, 400), state, 0), 4);
  assert.equal(decide(scaling, observe(2, 20), state, 0), 2);
});

test('scales down only after the need stayed lower for the delay', () => {
  const state: ScaleState = { belowSince: undefined };
  assert.equal(decide(scaling, observe(3, 5), state, 10_000), 3);
  assert.equal(decide(scaling, observe(3, 5), state, 10_500), 3);
  assert.equal(decide(scaling, observe(3, 5), state, 11_000), 1);
  // A burst in between resets the delay.
  const bursty: ScaleState = { belowSince: undefined };
  assert.equal(decide(scaling, observe(3, 5), bursty, 0), 3);
  assert.equal(decide(scaling, observe(3, 30), bursty, 600), 3);
  assert.equal(decide(scaling, observe(3, 5), bursty, 1200), 3);
});

test('never below minReplicas; to zero only when allowed and idle for the idle timeout', () => {
  const state: ScaleState = { belowSince: undefined };
  assert.equal(decide(scaling, observe(1, 0, 0), state, 100_000), 1);
  const toZero = { ...scaling, minReplicas: 0 };
  assert.equal(decide(toZero, observe(1, 0, 10_000), state, 14_000), 1, 'idle for 4 s only');
  assert.equal(decide(toZero, observe(1, 0, 10_000), state, 15_000), 0);
  assert.equal(decide(toZero, observe(1, 0, 10_000, 1), state, 15_000), 1, 'a request in flight keeps it');
  assert.equal(decide(toZero, observe(0, 0, 10_000), state, 20_000), 0, 'stays at zero');
});
