import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bucketOf, pickByPoint, pickTarget, selectTarget, splitTag } from './traffic.ts';

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

test('a tag, else a version, else the weights choose the target; unknown tags and versions are not_found', () => {
  const tagged = [
    { name: 'stable', weight: 90, tag: 'stable', version: 1 },
    { name: 'canary', weight: 10, tag: 'canary', version: 2 },
  ];
  const versionOf = (t: (typeof tagged)[number]) => t.version;
  assert.equal(selectTarget('fraud', tagged, versionOf, { tag: 'canary', version: '1' }).name, 'canary');
  assert.equal(selectTarget('fraud', tagged, versionOf, { version: '2' }).name, 'canary');
  assert.equal(selectTarget('fraud', tagged, versionOf, { tag: '' }, () => 0.5).name, 'stable');
  assert.equal(selectTarget('fraud', tagged, versionOf, {}, () => 0.95).name, 'canary');
  const user = 'user-7';
  assert.equal(selectTarget('fraud', tagged, versionOf, { sticky: user }).name, pickTarget(tagged, user).name);
  assert.throws(
    () => selectTarget('fraud', tagged, versionOf, { tag: 'blue' }),
    /deployment 'fraud' has no target tagged 'blue'/,
  );
  assert.throws(() => selectTarget('fraud', tagged, versionOf, { version: '9' }), /does not serve version 9/);
  assert.deepEqual(splitTag('fraud@canary'), { base: 'fraud', tag: 'canary' });
  assert.deepEqual(splitTag('fraud'), { base: 'fraud', tag: undefined });
});
