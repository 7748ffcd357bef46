import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { categoricalDrift, createRng, ks2Samp, numericDrift } from '../stats/index.ts';
import { profileFile } from './profiler.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelport-profiler-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a profile stores the drift reference, and drift computed from it matches drift from the raw data', async () => {
  const rng = createRng(9);
  const n = 20_000;
  const amount = Array.from({ length: n }, () => Math.exp(rng.normal()));
  const colour = Array.from({ length: n }, (_, i) => ['red', 'green', 'blue'][i % 3]!);
  const lines = ['amount,colour,count'];
  for (let i = 0; i < n; i++) lines.push(`${i % 100 === 0 ? '' : amount[i]},${colour[i]},${i % 7}`);
  const file = join(dir, 'train.csv');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const profile = await profileFile(file, 'csv', { tempDir: dir });
  const [a, c, k] = profile.columns;

  assert.equal(a!.drift?.kind, 'numeric');
  if (a!.drift?.kind !== 'numeric') return;
  assert.equal(a!.drift.n, n - 200);
  assert.equal(a!.drift.nulls, 200);
  assert.equal(a!.drift.quantiles.length, 101);
  assert.equal(a!.drift.quantiles[0], a!.min);
  assert.equal(a!.drift.quantiles[100], a!.max);
  assert.equal(a!.drift.edges.length, 9);
  assert.equal(
    a!.drift.counts.reduce((x, y) => x + y, 0),
    n - 200,
    'exact counts cover every non-null value',
  );
  assert.ok(
    a!.drift.counts.every((count) => Math.abs(count - (n - 200) / 10) < n / 50),
    `${a!.drift.counts}`,
  );

  // An integer column with ties: edges are distinct, counts exact.
  assert.equal(k!.drift?.kind, 'numeric');
  if (k!.drift?.kind === 'numeric') {
    assert.deepEqual(k!.drift.edges, [...new Set(k!.drift.edges)]);
    assert.equal(
      k!.drift.counts.reduce((x, y) => x + y, 0),
      n,
    );
  }

  assert.deepEqual(c!.drift, {
    kind: 'categorical',
    n,
    nulls: 0,
    counts: { red: Math.ceil(n / 3), green: Math.round(n / 3), blue: Math.floor(n / 3) },
    other: 0,
  });

  // Drift against the stored reference: the same distribution does not drift, a shifted one does, and the KS
  // statistic against the sketch is within 0.02 of the exact one against the raw reference.
  const reference = amount.filter((_, i) => i % 100 !== 0);
  const same = Array.from({ length: 5000 }, () => Math.exp(rng.normal()));
  const shifted = Array.from({ length: 5000 }, () => Math.exp(rng.normal() + 0.3));
  const stable = numericDrift(a!.drift, same);
  assert.equal(stable.drifted, false, JSON.stringify({ psi: stable.psi, ks: stable.ks }));
  const moved = numericDrift(a!.drift, shifted);
  assert.equal(moved.drifted, true);
  for (const current of [same, shifted]) {
    const sketch: number = numericDrift(a!.drift, current).ks.statistic;
    const exact = ks2Samp(reference, current).statistic;
    assert.ok(Math.abs(sketch - exact) < 0.02, `sketch ${sketch} vs exact ${exact}`);
  }
  if (c!.drift?.kind === 'categorical') {
    assert.equal(categoricalDrift(c!.drift, ['red', 'red', 'red', 'blue']).drifted, true);
  }
});
