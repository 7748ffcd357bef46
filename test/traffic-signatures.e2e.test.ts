/**
 * A split whose targets answer with different outputs is accepted, with a warning at apply (API, CLI) naming each
 * target's outputs, and V2 metadata of the deployment lists the outputs of each arm.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { trainFraudModel } from '../examples/fraud/train.ts';
import { ModelportClient } from '../src/client/client.ts';
import { cli } from './support/cli.ts';
import { startTestServer, type TestServer } from './support/server.ts';

describe('traffic targets whose signatures differ', { timeout: 120_000 }, () => {
  let t: TestServer;
  let dir: string;
  let mp: ModelportClient;

  before(async () => {
    t = await startTestServer();
    mp = new ModelportClient({ url: t.url });
    dir = await mkdtemp(join(tmpdir(), 'modelport-signatures-'));
    await writeFile(join(dir, 'fraud.onnx'), trainFraudModel({ seed: 1, rows: 4000 }).onnx);
    // A js model taking the same input but answering with probabilities only (no label).
    const folder = join(dir, 'probabilities-only');
    await mkdir(folder);
    await writeFile(
      join(folder, 'modelport.json'),
      JSON.stringify({
        signature: {
          inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 30] }],
          outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 2] }],
        },
      }),
    );
    await writeFile(
      join(folder, 'index.js'),
      'export function predict({ input }) { const n = input.shape[0]; return { probabilities: { shape: [n, 2], data: new Array(n * 2).fill(0.5) } }; }\n',
    );
    assert.equal((await cli(t.url, 'models', 'register', 'fraud', join(dir, 'fraud.onnx'))).code, 0);
    assert.equal((await cli(t.url, 'models', 'register', 'fraud', folder)).code, 0);
  });
  after(async () => {
    await t?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('apply warns (API and CLI), and V2 metadata names the outputs of each arm', async () => {
    const same = await mp.createDeployment('same', { traffic: [{ model: 'fraud@1', weight: 100 }] });
    assert.equal(same.warnings, undefined, 'one target: nothing to compare');

    const created = await cli(
      t.url,
      'deployments',
      'create',
      'risk',
      '--model',
      'fraud@1',
      '--canary',
      'fraud@2:10',
      '--wait',
    );
    assert.equal(created.code, 0, created.stderr);
    assert.match(
      created.stderr,
      /^warning: spec\.traffic: the targets' outputs differ, .*fraud@1 \(stable\) outputs label INT64 \[-1\], probabilities FP32 \[-1, 2\]; fraud@2 \(canary\) outputs probabilities FP32 \[-1, 2\]\n$/,
    );
    const applied = await mp.applyDeployment('risk', {
      traffic: [
        { model: 'fraud@1', weight: 50, tag: 'a' },
        { model: 'fraud@2', weight: 50, tag: 'b' },
      ],
    });
    assert.equal(applied.warnings?.length, 1);
    assert.match(applied.warnings![0]!, /fraud@1 \(a\) outputs label/);
    await mp.waitDeployment('risk');

    const metadata = (await (await fetch(`${t.url}/v2/models/risk`)).json()) as {
      parameters?: { targets?: { target: string; tag: string; weight: number; outputs: string[] }[] };
    };
    assert.deepEqual(metadata.parameters?.targets, [
      { target: 'fraud@1', tag: 'a', weight: 50, outputs: ['label', 'probabilities'] },
      { target: 'fraud@2', tag: 'b', weight: 50, outputs: ['probabilities'] },
    ]);
    const single = (await (await fetch(`${t.url}/v2/models/same`)).json()) as { parameters?: { targets?: unknown } };
    assert.equal(single.parameters?.targets, undefined);
  });
});
