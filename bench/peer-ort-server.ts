/**
 * The peer Modelport is measured against (issue 19): a 60-line node:http + onnxruntime-node server with no batching,
 * no validation and no isolation, speaking just enough V2 JSON (`POST /v2/models/{name}/infer`, one FP32 input).
 * With `--threads N` each request runs on one of N worker threads (round robin), each holding its own sessions;
 * without, on the main thread. A child process of `bench/serving.ts`; sends `{ type: 'ready', port }` over IPC.
 *
 * Run: node bench/peer-ort-server.ts [--threads 2] name=model.onnx [name=model.onnx ...]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

type Infer = { name: string; input: Float32Array; shape: number[] };
type Answer = { name: string; datatype: string; shape: number[]; data: number[] }[];

async function loadSessions(models: string[]) {
  const sessions = new Map<string, ort.InferenceSession>();
  for (const spec of models) {
    const [name, path] = spec.split('=') as [string, string];
    sessions.set(name, await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 }));
  }
  return async ({ name, input, shape }: Infer): Promise<Answer> => {
    const session = sessions.get(name);
    if (!session) throw new Error(`no model ${name}`);
    const results = await session.run({ [session.inputNames[0] as string]: new ort.Tensor('float32', input, shape) });
    return Object.entries(results).map(([out, t]) => ({
      name: out,
      datatype: t.type === 'int64' ? 'INT64' : 'FP32',
      shape: [...t.dims],
      data: Array.from(t.data as ArrayLike<number | bigint>, Number),
    }));
  };
}

if (!isMainThread) {
  const run = await loadSessions(workerData as string[]);
  parentPort?.on('message', async ({ id, request }: { id: number; request: Infer }) =>
    parentPort?.postMessage({ id, outputs: await run(request) }),
  );
} else {
  const threadsAt = process.argv.indexOf('--threads');
  const threads = threadsAt > 0 ? Number(process.argv[threadsAt + 1]) : 0;
  const models = process.argv.slice(2).filter((a) => a.includes('='));
  let run: (request: Infer) => Promise<Answer>;
  if (threads === 0) run = await loadSessions(models);
  else {
    const pending = new Map<number, (outputs: Answer) => void>();
    const workers = Array.from({ length: threads }, () => new Worker(new URL(import.meta.url), { workerData: models }));
    for (const w of workers) w.on('message', ({ id, outputs }) => pending.get(id)?.(outputs));
    let next = 0;
    run = (request) =>
      new Promise((resolve) => {
        const id = next++;
        pending.set(id, (outputs) => {
          pending.delete(id);
          resolve(outputs);
        });
        workers[id % threads]?.postMessage({ id, request });
      });
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const name = req.url?.split('/')[3] ?? '';
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { inputs: { shape: number[]; data: number[] }[] };
      const input = body.inputs[0] as { shape: number[]; data: number[] };
      const outputs = await run({ name, input: Float32Array.from(input.data), shape: input.shape });
      const text = JSON.stringify({ model_name: name, outputs });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port }));
  process.on('disconnect', () => process.exit(0));
}
