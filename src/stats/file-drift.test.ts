import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { categoricalDrift, categoricalReference, createRng, fileDrift, numericDriftSamples } from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelport-file-drift-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, rows: { x: number; k: number; c: string }[]): string {
  const file = join(dir, name);
  writeFileSync(file, `x,k,c\n${rows.map((r) => `${Number.isNaN(r.x) ? '' : r.x},${r.k},${r.c}`).join('\n')}\n`);
  return file;
}

test('drift over two files in SQL equals drift over the same values in memory', async () => {
  const rng = createRng(21);
  const make = (n: number, shift: number, mix: number) =>
    Array.from({ length: n }, (_, i) => ({
      x: i % 50 === 0 ? Number.NaN : Math.round((rng.normal() + shift) * 1000) / 1000,
      k: rng.int(5),
      c: rng.next() < mix ? 'a' : 'b',
    }));
  const ref = make(6000, 0, 0.5);
  const cur = make(4000, 0.25, 0.7);
  const result = await fileDrift(write('ref.csv', ref), write('cur.csv', cur), { tempDir: dir, threads: 1 });
  assert.deepEqual(
    result.columns.map((c) => [c.name, c.drift.kind]),
    [
      ['x', 'numeric'],
      ['k', 'numeric'],
      ['c', 'categorical'],
    ],
  );
  for (const key of ['x', 'k'] as const) {
    const sql = result.columns.find((c) => c.name === key)!.drift;
    const memory = numericDriftSamples(
      ref.map((r) => r[key]),
      cur.map((r) => r[key]),
    );
    assert.equal(sql.kind, 'numeric');
    if (sql.kind !== 'numeric') return;
    assert.ok(Math.abs(sql.psi - memory.psi) < 1e-12, `${key}: psi ${sql.psi} vs ${memory.psi}`);
    // Counts equal; edges equal up to the last bits (DuckDB and numpy round the interpolation differently).
    assert.deepEqual(
      sql.bins.map((b) => [b.reference, b.current]),
      memory.bins.map((b) => [b.reference, b.current]),
    );
    for (const [i, b] of sql.bins.entries())
      assert.ok(Math.abs(b.hi - memory.bins[i]!.hi) <= 1e-12 || b.hi === memory.bins[i]!.hi);
    assert.equal(sql.ks.statistic, memory.ks.statistic);
    assert.equal(sql.ks.pValue, memory.ks.pValue);
    assert.deepEqual(sql.nullShare, memory.nullShare);
    assert.equal(sql.drifted, memory.drifted);
  }
  const c = result.columns.find((col) => col.name === 'c')!.drift;
  const memory = categoricalDrift(
    categoricalReference(ref.map((r) => r.c)),
    cur.map((r) => r.c),
  );
  assert.deepEqual(c, memory);
  assert.equal(result.dataset.features, 3);
  assert.ok(result.dataset.driftedFeatures.includes('x') && result.dataset.driftedFeatures.includes('c'));
  assert.ok(!result.dataset.driftedFeatures.includes('k'));
});

test('a column missing from the current file is named', async () => {
  const a = join(dir, 'a.csv');
  const b = join(dir, 'b.csv');
  writeFileSync(a, 'x,y\n1,2\n');
  writeFileSync(b, 'x\n1\n');
  await assert.rejects(fileDrift(a, b, { tempDir: dir }), /current file has no column 'y'/);
});
