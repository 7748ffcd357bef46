/**
 * Test fixtures: js model folders written to disk and packed as .tgz, named for what they do (after MLServer's
 * test fakes): `SumModel` adds its inputs, a number read from its own folder and one from its environment;
 * `ErrorModel`'s load throws; `SlowModel` takes a moment to load; `CrashModel`'s predict always throws;
 * `DyingModel` (`dies`) kills its own process on a negative input; the others break the contract in one way each.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { packFolder } from './tar-writer.ts';

/**
 * SumModel, in TypeScript: inputs a, b FP32 [-1, 2] -> `sum` = (a + b) * SCALE + offset + BIAS, where offset comes
 * from data/offset.txt (3) and SCALE, BIAS from the environment (1 and 0 when unset); `rows` INT64 [-1] tells each
 * row the size of the batch it ran in (returned as a plain array, so the runtime converts it). `unload` counts
 * its calls in `globalThis.sumModelUnloads`.
 */
const SUM_MODEL = `
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Context { dir: string; env: Record<string, string>; log(message: string, fields?: object): void }
interface Input { shape: number[]; data: Float32Array }

let offset = 0;

export function load(context: Context): void {
  offset = Number(readFileSync(join(context.dir, 'data', 'offset.txt'), 'utf8'));
  context.log('sum model loaded', { offset });
}

/** Counts its calls on globalThis, so an in-process test can see that unload ran. */
export function unload(context: Context): void {
  const g = globalThis as { sumModelUnloads?: number };
  g.sumModelUnloads = (g.sumModelUnloads ?? 0) + 1;
  context.log('sum model unloaded');
}

export function predict(inputs: Record<string, Input>, context: Context) {
  const a = inputs['a']!;
  const b = inputs['b']!;
  const scale = Number(context.env['SCALE'] ?? '1');
  const bias = Number(context.env['BIAS'] ?? '0');
  const sum = new Float32Array(a.data.length);
  for (let i = 0; i < sum.length; i++) sum[i] = (a.data[i]! + b.data[i]!) * scale + offset + bias;
  const rows = a.shape[0]!;
  return { sum: { shape: a.shape, data: sum }, rows: { shape: [rows], data: new Array(rows).fill(rows) } };
}
`;

const SUM_MANIFEST = {
  entry: 'src/model.ts',
  signature: {
    inputs: [
      { name: 'a', datatype: 'FP32', shape: [-1, 2] },
      { name: 'b', datatype: 'FP32', shape: [-1, 2] },
    ],
    outputs: [
      { name: 'sum', datatype: 'FP32', shape: [-1, 2] },
      { name: 'rows', datatype: 'INT64', shape: [-1] },
    ],
  },
};

/** What SumModel answers for one row, to compare with. */
export function expectedSum(a: number[], b: number[], scale = 1, bias = 0): number[] {
  return a.map((x, i) => Math.fround((x + (b[i] as number)) * scale + 3 + bias));
}

const MODELS: Record<string, Record<string, string>> = {
  sum: {
    'modelport.json': JSON.stringify(SUM_MANIFEST),
    'src/model.ts': SUM_MODEL,
    'data/offset.txt': '3',
  },
  error: {
    'modelport.json': JSON.stringify({ signature: SUM_MANIFEST.signature }),
    'index.js': `export function load() { throw new Error('ErrorModel refuses to load: weights missing'); }\nexport function predict() { return {}; }\n`,
  },
  slow: {
    'modelport.json': JSON.stringify({ signature: SUM_MANIFEST.signature }),
    'index.js':
      'export async function load() { await new Promise((resolve) => setTimeout(resolve, 50)); }\nexport function predict() { return {}; }\n',
  },
  crash: {
    'modelport.json': JSON.stringify({ signature: SUM_MANIFEST.signature }),
    'index.js': "export function predict() { throw new Error('CrashModel always fails'); }\n",
  },
  nopredict: {
    'modelport.json': JSON.stringify({ signature: SUM_MANIFEST.signature }),
    'index.mjs': 'export function load() {}\n',
  },
  syntax: {
    'modelport.json': JSON.stringify({ signature: SUM_MANIFEST.signature }),
    'index.js': 'export function predict( {\n',
  },
  hang: {
    'modelport.json': JSON.stringify({ signature: SUM_MANIFEST.signature }),
    'index.js':
      'export async function load() { await new Promise(() => setInterval(() => {}, 1000)); }\nexport function predict() {}\n',
  },
  exits: {
    'modelport.json': JSON.stringify({ signature: SUM_MANIFEST.signature }),
    'index.js': 'export function load() { process.exit(3); }\nexport function predict() {}\n',
  },
  /** DyingModel: answers a + b, but its process dies on any negative input (a poison request). */
  dies: {
    'modelport.json': JSON.stringify({
      signature: {
        inputs: SUM_MANIFEST.signature.inputs,
        outputs: [{ name: 'sum', datatype: 'FP32', shape: [-1, 2] }],
      },
    }),
    'index.js': [
      'export function predict(inputs) {',
      '  const { a, b } = inputs;',
      '  if (a.data.some((x) => x < 0)) process.kill(process.pid, "SIGKILL");',
      '  return { sum: { shape: a.shape, data: a.data.map((x, i) => x + b.data[i]) } };',
      '}',
      '',
    ].join('\n'),
  },
  badsignature: {
    'modelport.json': JSON.stringify({
      signature: { inputs: [{ name: 'a', datatype: 'FLOAT', shape: [2] }], outputs: [] },
    }),
    'index.js': 'export function predict() {}\n',
  },
  nomanifest: { 'index.js': 'export function predict() {}\n' },
  /** Reads the environment in load: at registration it sees none of the server's variables. */
  envprobe: {
    'modelport.json': JSON.stringify({ signature: SUM_MANIFEST.signature }),
    'index.js':
      "export function load(ctx) { if (Object.keys(ctx.env).some((k) => k.startsWith('MODELPORT'))) throw new Error('server env leaked'); }\nexport function predict() {}\n",
  },
};

export type JsModelName = keyof typeof MODELS;

export interface JsModelFiles {
  root: string;
  /** The folder of a model. */
  folder(name: JsModelName): string;
  /** The .tgz of a model (packed on first use). */
  archive(name: JsModelName): Promise<string>;
  bytes(name: JsModelName): Promise<Uint8Array>;
  cleanup(): Promise<void>;
}

export async function writeJsModels(): Promise<JsModelFiles> {
  const root = await mkdtemp(join(tmpdir(), 'modelport-js-models-'));
  for (const [name, files] of Object.entries(MODELS)) {
    for (const [path, text] of Object.entries(files)) {
      const file = join(root, name, path);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, text);
    }
  }
  const archive = async (name: JsModelName) => {
    const out = join(root, `${name}.tgz`);
    await packFolder(join(root, name), out);
    return out;
  };
  return {
    root,
    folder: (name) => join(root, name),
    archive,
    bytes: async (name) => new Uint8Array(await readFile(await archive(name))),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}
