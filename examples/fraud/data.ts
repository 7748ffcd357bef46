/**
 * Writes the example pipeline's data: transactions.csv (to train on) and holdout.csv (to evaluate on), synthetic
 * rows shaped like creditcard.csv, deterministically for a seed. `--damage` scrambles the labels of
 * transactions.csv (what a broken labelling job does), so the pipeline's gate has something to stop.
 *
 *   node examples/fraud/data.ts --out ./data [--rows 10000] [--seed 7] [--damage]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRandom } from 'modelport/onnx';
import { generateTransactions, transactionsCsv } from './train.ts';

export interface ExampleData {
  transactions: string;
  holdout: string;
}

/** The two CSV files; with `damage`, a third of the training labels are flipped and the rest shuffled. */
export function exampleData(options: { rows?: number; seed?: number; damage?: boolean } = {}): ExampleData {
  const rng = createRandom(options.seed ?? 7);
  const train = generateTransactions(rng, options.rows ?? 10_000);
  const holdout = generateTransactions(rng, 4000);
  if (options.damage) {
    // Labels no longer follow the rows: shuffle them, then flip a third.
    for (let i = train.labels.length - 1; i > 0; i--) {
      const j = Math.floor(rng.uniform() * (i + 1));
      [train.labels[i], train.labels[j]] = [train.labels[j]!, train.labels[i]!];
    }
    for (let i = 0; i < train.labels.length; i += 3) train.labels[i] = 1 - train.labels[i]!;
  }
  return {
    transactions: transactionsCsv(train.data, train.labels),
    holdout: transactionsCsv(holdout.data, holdout.labels),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: '.' },
      rows: { type: 'string', default: '10000' },
      seed: { type: 'string', default: '7' },
      damage: { type: 'boolean', default: false },
    },
  });
  const files = exampleData({ rows: Number(values.rows), seed: Number(values.seed), damage: values.damage });
  mkdirSync(values.out, { recursive: true });
  writeFileSync(join(values.out, 'transactions.csv'), files.transactions);
  writeFileSync(join(values.out, 'holdout.csv'), files.holdout);
  console.log(`wrote ${values.out}/transactions.csv and holdout.csv${values.damage ? ' (labels damaged)' : ''}`);
}
