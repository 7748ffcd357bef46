/**
 * A deployment that logs its calls and monitors drift, on a real server: the fraud example's training data committed
 * and profiled in a data repository, a model registered with that commit as its lineage, and traffic drawn like the
 * training data (`fresh`) or with a dozen features shifted by 4 standard deviations (`shifted`).
 */
import assert from 'node:assert/strict';
import { createRandom } from 'modelport/onnx';
import { exampleData } from '../../examples/fraud/data.ts';
import { FEATURE_NAMES, generateTransactions, trainFraudModel } from '../../examples/fraud/train.ts';
import type { ModelportClient } from '../../src/client/client.ts';

export const SHIFTED = ['v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8', 'v9', 'v10', 'v11', 'v12'];
export const ROWS_PER_CALL = 10;
export const CALLS = 30;

export async function until<T>(what: string, probe: () => Promise<T | undefined>, attempts = 300): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** `rows` of traffic; `shift` standard deviations added to the SHIFTED features (v_k's spread is 1.96 * 0.936^(k-1)). */
export function traffic(seed: number, shift = 0, rows = CALLS * ROWS_PER_CALL): number[][] {
  return generateTransactions(createRandom(seed), rows).data.map((row) =>
    row.map((v, j) => (SHIFTED.includes(FEATURE_NAMES[j] ?? '') ? v + shift * 1.96 * 0.936 ** (j - 1) : v)),
  );
}

/** Sends rows as calls of ROWS_PER_CALL rows, then waits until the last call is in the payload log. */
export async function send(url: string, mp: ModelportClient, deployment: string, rows: number[][]): Promise<void> {
  let last = '';
  for (let i = 0; i < rows.length; i += ROWS_PER_CALL) {
    const batch = rows.slice(i, i + ROWS_PER_CALL);
    const res = await fetch(`${url}/v2/models/${deployment}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [{ name: 'input', datatype: 'FP32', shape: [batch.length, 30], data: batch.flat() }],
      }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    last = res.headers.get('modelport-request-id') ?? '';
    await res.arrayBuffer();
  }
  // The record is queryable once its batch is written; until then the log answers 404.
  await until('the logged calls', async () => {
    const found = await mp.getPayload(last, deployment).catch((error: { status?: number }) => {
      if (error.status === 404) return [];
      throw error;
    });
    return found.length > 0 ? true : undefined;
  });
}

/** Commits and profiles the training data, registers `fraud@1` with it as lineage, and deploys `name` monitoring drift. */
export async function driftDeployment(
  mp: ModelportClient,
  name: string,
  notify: { webhook: { url: string; format: 'json' | 'slack' } }[] = [],
): Promise<void> {
  await mp.createRepo('fraud-data');
  const csv = exampleData({ rows: 3000, seed: 7 }).transactions;
  const commit = await mp.putFile('fraud-data', 'transactions.csv', new TextEncoder().encode(csv), {
    message: 'training data',
  });
  await until('the profile', async () =>
    (await mp.getProfile('fraud-data', 'main', 'transactions.csv')).state === 'ready' ? true : undefined,
  );
  await mp.registerVersion('fraud', trainFraudModel({ seed: 7, rows: 4000 }).onnx, {
    dataCommit: `fraud-data@${commit.commit.id}`,
    signature: {
      features: FEATURE_NAMES.map((feature) => ({ name: feature, type: 'number' as const })),
      outputs: { labels: ['legit', 'fraud'] },
    },
  });
  await mp.createDeployment(name, {
    traffic: [{ model: 'fraud@1', weight: 100 }],
    logging: { sample: 100 },
    monitoring: {
      drift: {
        schedule: '0 0 1 1 *',
        window: '1h',
        threshold: 0.2,
        share: 0.3,
        minRows: CALLS / 2,
        maxRows: CALLS,
        notify,
      },
    },
  });
  await mp.waitDeployment(name);
}
