/**
 * What `modelport score` tells a user: which version scored (the gateway's rule for a bare name, an alias, a
 * deployment), `--keep` columns set aside from the features, and a model file or js folder scored offline.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { trainFraudModel } from '../examples/fraud/train.ts';
import { cli } from './support/cli.ts';
import { startTestServer, type TestServer } from './support/server.ts';

describe('modelport score: what scored, --keep, local models', { timeout: 120_000 }, () => {
  let t: TestServer;
  let dir: string;
  const first = trainFraudModel({ seed: 1, rows: 4000 });
  const second = trainFraudModel({ seed: 3, rows: 4000 });
  const rows = [first.samples.legit, first.samples.fraud];

  before(async () => {
    t = await startTestServer();
    dir = await mkdtemp(join(tmpdir(), 'modelport-score-cli-'));
    await writeFile(join(dir, 'v1.onnx'), first.onnx);
    await writeFile(join(dir, 'v2.onnx'), second.onnx);
    // Raw rows (no feature names known: the models carry no friendly signature), one id column in front.
    const header = ['id', ...Array.from({ length: 30 }, (_, j) => `c${j}`)];
    await writeFile(join(dir, 'with-id.csv'), `${[header, ...rows.map((r, i) => [`tx${i}`, ...r])].join('\n')}\n`);
    await writeFile(join(dir, 'plain.csv'), `${rows.map((r) => r.join(',')).join('\n')}\n`);
  });
  after(async () => {
    await t?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const run = (...argv: string[]) => cli(t.url, ...argv);

  test('the summary names the version; a bare name is the latest (as the gateway reads it), and says so beside a champion', async () => {
    assert.equal((await run('models', 'register', 'risk', join(dir, 'v1.onnx'), '--alias', 'champion')).code, 0);
    assert.equal((await run('models', 'register', 'risk', join(dir, 'v2.onnx'))).code, 0);
    const bare = await run('score', 'risk', join(dir, 'plain.csv'), '-o', join(dir, 'bare.csv'));
    assert.equal(bare.code, 0, bare.stderr);
    assert.match(
      bare.stderr,
      /risk: scoring with risk@2, the latest version, as the gateway serves 'risk'; its alias champion is risk@1: score risk@champion to use it/,
    );
    assert.match(bare.stderr, /scored 2 rows \(0 rejected\) with risk@2 \(latest\) in/);

    const champion = await run('score', 'risk@champion', join(dir, 'plain.csv'), '-o', join(dir, 'champion.csv'));
    assert.match(champion.stderr, /scored 2 rows \(0 rejected\) with risk@1 \(champion\) in/);
    assert.doesNotMatch(champion.stderr, /latest/);
    const pinned = await run('score', 'risk@2', join(dir, 'plain.csv'), '-o', join(dir, 'pinned.csv'));
    assert.match(pinned.stderr, /with risk@2 in/);

    // A deployment of that name is what the gateway serves for `risk`: score follows it, and says so.
    assert.equal((await run('deployments', 'create', 'risk', '--model', 'risk@champion', '--wait')).code, 0);
    const deployed = await run('score', 'risk', join(dir, 'plain.csv'), '-o', join(dir, 'deployed.csv'));
    assert.equal(deployed.code, 0, deployed.stderr);
    assert.match(deployed.stderr, /with deployment risk: risk@1 \(100%\) in/);
    assert.equal(await readFile(join(dir, 'deployed.csv'), 'utf8'), await readFile(join(dir, 'champion.csv'), 'utf8'));
  });

  test('--keep id: the kept column is not a feature, so 31 columns feed a 30-feature model by position', async () => {
    const result = await run('score', 'risk@1', join(dir, 'with-id.csv'), '-o', join(dir, 'kept.csv'), '--keep', 'id');
    assert.equal(result.code, 0, result.stderr);
    const lines = (await readFile(join(dir, 'kept.csv'), 'utf8')).trimEnd().split('\n');
    assert.match(lines[0]!, /^id,label,probabilities_0,probabilities_1$/);
    assert.match(lines[1]!, /^tx0,0,/);
    assert.match(lines[2]!, /^tx1,1,/);
    const scored = (await readFile(join(dir, 'champion.csv'), 'utf8')).trimEnd().split('\n');
    assert.deepEqual(
      lines.slice(1).map((l) => l.slice(4)),
      scored.slice(1),
      'the same scores as without the id',
    );
  });

  test('a local ONNX file and a js model folder are scored offline, with no server', async () => {
    const offline = (...argv: string[]) => cli('http://127.0.0.1:1', ...argv);
    const onnx = await offline('score', join(dir, 'v1.onnx'), join(dir, 'plain.csv'), '-o', join(dir, 'local.csv'));
    assert.equal(onnx.code, 0, onnx.stderr);
    assert.match(onnx.stderr, /with .*v1\.onnx \(a local ONNX file\)/);
    assert.equal(await readFile(join(dir, 'local.csv'), 'utf8'), await readFile(join(dir, 'champion.csv'), 'utf8'));

    const folder = join(dir, 'double');
    await mkdir(folder);
    await writeFile(
      join(folder, 'modelport.json'),
      JSON.stringify({
        signature: {
          inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 2] }],
          outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }],
        },
      }),
    );
    await writeFile(
      join(folder, 'index.js'),
      'export function predict({ x }) { return { y: { shape: x.shape, data: Array.from(x.data, (v) => v * 2) } }; }\n',
    );
    await writeFile(join(dir, 'pairs.csv'), 'a,b\n1,2\n3.5,-1\n');
    const js = await offline('score', folder, join(dir, 'pairs.csv'), '-o', join(dir, 'doubled.csv'));
    assert.equal(js.code, 0, js.stderr);
    assert.match(js.stderr, /scored 2 rows \(0 rejected\) with .*double \(a local js model\)/);
    assert.equal(await readFile(join(dir, 'doubled.csv'), 'utf8'), 'y_0,y_1\n2,4\n7,-2\n');

    const missing = await offline('score', './no-such-model.onnx', join(dir, 'plain.csv'));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no model file or folder at '\.\/no-such-model\.onnx'/);
  });
});
