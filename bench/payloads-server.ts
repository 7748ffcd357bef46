/**
 * The server under `bench/payloads.ts`, in a child process so the load generator never shares its event loop: a
 * real Modelport server (embedded stores in a temp home) with the fraud model deployed twice with the same serving
 * options, `plain` (no logging) and `logged` (`spec.logging: { sample: 100 }`, the built-in store).
 *
 * IPC: sends `{ type: 'ready', url, pid }`; answers `{ type: 'count' }` (after flushing the payload log) with the
 * records written for `logged` and the drops counted in /metrics; `{ type: 'seed', rows, hours }` writes `rows`
 * records of the deployment `big` spread over the last `hours` hours (Parquet files made with DuckDB, taken in
 * with `StoreSink.importParquet`) and answers `{ type: 'seeded', rows, files, bytes, ms }`.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainFraudModel } from '../examples/fraud/train.ts';
import { ModelportClient } from '../src/client/client.ts';
import { compileServerConfig } from '../src/core/config.ts';
import { memoryLogger } from '../src/logging/index.ts';
import { startServer } from '../src/server/server.ts';

export type PayloadServerMessage =
  | { type: 'ready'; url: string; pid: number }
  | { type: 'count'; written: number; dropped: number }
  | { type: 'seeded'; rows: number; files: number; bytes: number; ms: number };

const home = await mkdtemp(join(tmpdir(), 'modelport-bench-payloads-'));
const config = compileServerConfig({ home, port: '0', grpcPort: '0', example: 'false' });
const server = await startServer(config, { log: memoryLogger(), version: 'bench', examplesDir: home });
const client = new ModelportClient({ url: server.url });
const fraud = trainFraudModel();
await client.registerVersion('fraud', fraud.onnx, {
  signature: {
    features: fraud.featureNames.map((name) => ({ name, type: 'number' as const })),
    outputs: { labels: ['legit', 'fraud'], probabilities: 'probabilities', label: 'label' },
  },
});
// The serving options of bench/serving.ts's fraud model: one single-threaded worker, batches of up to 64.
const spec = {
  traffic: [{ model: 'fraud@1', weight: 100 }],
  scaling: { minReplicas: 1, maxReplicas: 1 },
  runtime: { intraOpThreads: 1, interOpThreads: 1, batching: { maxBatchSize: 64, maxQueueSize: 4096 } },
};
await client.applyDeployment('plain', spec);
await client.applyDeployment('logged', { ...spec, logging: { sample: 100, mode: 'all', sinks: [{ type: 'store' }] } });
await client.waitDeployment('plain', 120);
await client.waitDeployment('logged', 120);

const send = (message: PayloadServerMessage) =>
  process.send ? process.send(message) : console.log(JSON.stringify(message));

async function seed(rows: number, hours: number): Promise<PayloadServerMessage> {
  const started = performance.now();
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:', { threads: '2', memory_limit: '1GB' });
  const connection = await db.connect();
  const dir = join(home, 'tmp', 'payloads');
  const perHour = Math.ceil(rows / hours);
  const now = Date.now();
  const start = now - hours * 3_600_000;
  try {
    for (let h = 0; h < hours; h++) {
      const count = Math.min(perHour, rows - h * perHour);
      if (count <= 0) break;
      const file = join(dir, `seed-${h}.parquet`);
      // About 1 call in 50 is fraud; inputs are 30 features as the gateway logs them.
      await connection.run(`COPY (
        SELECT 'seed-' || ${h} || '-' || i AS request_id,
          make_timestamp((${start + h * 3_600_000}::BIGINT + (i * ${Math.floor(3_600_000 / count)}))::BIGINT * 1000) AS time,
          'default' AS project, 'big' AS deployment, 1 AS revision,
          CASE WHEN i % 10 = 0 THEN 'canary' ELSE 'primary' END AS arm, 'fraud' AS model, 1 AS model_version,
          'v2-json' AS protocol, 'ok' AS status, NULL::VARCHAR AS error, 'local' AS caller,
          (i % 7) / 10.0 AS queue_ms, 0.3 + (i % 5) / 10.0 AS compute_ms, 1.0 + (i % 11) / 10.0 AS total_ms,
          CASE WHEN i % 50 = 0 THEN 'fraud' ELSE 'legit' END AS prediction,
          '[{"name":"input","datatype":"FP32","shape":[1,30],"data":[' || (i % 100000) || ',-0.596,4.311,2.532,1.592,0.747,-1.703,0.832,0.378,-1.699,0.286,-0.943,-0.622,1.781,1.124,-1.044,-0.173,-0.328,0.403,0.4,-1.527,0.094,0.182,0.774,0.682,0.131,0.516,-0.008,0.009,' || (i % 997) || '.5]}]' AS inputs,
          '[{"name":"label","datatype":"INT64","shape":[1],"data":[' || CASE WHEN i % 50 = 0 THEN 1 ELSE 0 END || ']},{"name":"probabilities","datatype":"FP32","shape":[1,2],"data":[0.98,0.02]}]' AS outputs
        FROM range(${count}) t(i)
      ) TO '${file}' (FORMAT parquet)`);
      await server.payloads.store.importParquet(file);
    }
  } finally {
    connection.closeSync();
    db.closeSync();
  }
  const usage = await server.payloads.store.usage('default', 'big');
  return { type: 'seeded', rows: usage.rows, files: usage.files, bytes: usage.bytes, ms: performance.now() - started };
}

process.on('message', (message: { type?: string; rows?: number; hours?: number }) => {
  if (message.type === 'count') {
    void (async () => {
      await server.payloads.flush();
      const written = (await server.payloads.store.usage('default', 'logged')).rows;
      const metrics = server.metrics.render();
      let dropped = 0;
      for (const m of metrics.matchAll(/modelport_payload_records_dropped_total\{deployment="logged"[^}]*\} (\d+)/g)) {
        dropped += Number(m[1]);
      }
      send({ type: 'count', written, dropped });
    })();
  }
  if (message.type === 'seed') void seed(message.rows ?? 10_000_000, message.hours ?? 24).then(send);
});
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
send({ type: 'ready', url: server.url, pid: process.pid });
