import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { withDuck } from './dataset.ts';

test('stream reads numbers with their nulls (empty and non-numeric cells) at the right rows, across chunks', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mp-dataset-'));
  try {
    // 5,000 rows: more than two of DuckDB's 2,048-row chunks, nulls in every chunk and at word edges of the mask.
    const rows = 5000;
    const isNull = (i: number) => i % 31 === 0 || i % 64 === 63 || i === 2048 || i === 4095;
    const lines = ['a,b'];
    for (let i = 0; i < rows; i++) lines.push(`${isNull(i) ? (i % 2 ? '' : 'x') : i / 4},${i}`);
    const file = join(dir, 'data.csv');
    await writeFile(file, `${lines.join('\n')}\n`);
    const seen: number[] = [];
    const b: number[] = [];
    await withDuck(file, { tempDir: dir, threads: 1, memoryBytes: 256 * 1024 * 1024 }, (db) =>
      db.stream(
        [
          { name: 'a', as: 'number' },
          { name: 'b', as: 'number' },
        ],
        async (n, values) => {
          const [a, bb] = values as Float32Array[];
          for (let i = 0; i < n; i++) {
            seen.push(a![i]!);
            b.push(bb![i]!);
          }
        },
      ),
    );
    assert.equal(seen.length, rows);
    for (let i = 0; i < rows; i++) {
      const row = b[i]!;
      if (isNull(row)) assert.ok(Number.isNaN(seen[i]), `row ${row} should be null, got ${seen[i]}`);
      else assert.equal(seen[i], Math.fround(row / 4), `row ${row}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
