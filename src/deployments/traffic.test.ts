import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bucketOf, pickByPoint, pickTarget } from './traffic.ts';

const targets = [
  { name: 'stable', weight: 90 },
  { name: 'canary', weight: 10 },
];

test('points map onto cumulative weight ranges; zero weights never win', () => {
  assert.equal(pickByPoint(targets, 0).name, 'stable');
  assert.equal(pickByPoint(targets, 89.99).name, 'stable');
  assert.equal(pickByPoint(targets, 90).name, 'canary');
  assert.equal(pickByPoint(targets, 99.99).name, 'canary');
  const withZero = [
    { name: 'a', weight: 100 },
    { name: 'b', weight: 0 },
  ];
  for (let p = 0; p < 100; p += 0.5) assert.equal(pickByPoint(withZero, p).name, 'a');
});

test('sticky values always land on the same target, and spread like the weights', () => {
  let canary = 0;
  for (let i = 0; i < 10_000; i++) {
    const user = `user-${i}`;
    const chosen = pickTarget(targets, user).name;
    assert.equal(pickTarget(targets, user).name, chosen);
    if (chosen === 'canary') canary++;
  }
  assert.ok(Math.abs(canary / 100 - 10) < 1.5, `${canary / 100}%`);
  assert.ok(bucketOf('x') >= 0 && bucketOf('x') < 100);
});

test('random picks follow the weights exactly for a given random source', () => {
  assert.equal(pickTarget(targets, undefined, () => 0.95).name, 'canary');
  assert.equal(pickTarget(targets, undefined, () => 0.5).name, 'stable');
});
