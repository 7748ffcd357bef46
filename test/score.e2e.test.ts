/**
 * `modelport score` end to end: a real server, the fraud model registered through the CLI, real files, and the
 * real CLI process for stdin/stdout. Expected probabilities come from the model's weights, computed in float64.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fraudSignature } from '../examples/fraud/artifacts.ts';
import { type FraudModel, fraudProbability, generateTransactions, trainFraudModel } from '../examples/fraud/train.ts';
import { buildLogisticRegressionModel, createRandom } from '../src/onnx-builder/index.ts';
import { cli } from './support/cli.ts';
import { REPO_ROOT, startTestServer, type TestServer } from './support/server.ts';

const ROWS = 3000;

let server: TestServer;
let dir: string;
let model: FraudModel;
let rows: number[][];
let signaturePath: string;

const run = (...argv: string[]) => cli(server.url, ...argv);

/** Output CSV -> header and rows of cells (no quoting in what these tests read back). */
function parseCsv(text: string): { header: string[]; rows: string[][] } {
  const lines = text.trimEnd().split('\n');
  return { header: (lines[0] ?? '').split(','), rows: lines.slice(1).map((l) => l.split(',')) };
}

function expectedP(row: number[]): number {
  return fraudProbability(model, row.map(Math.fround));
}

function assertScores(
  cells: string[][],
  from: number,
  probabilityColumn: number,
  labelColumn: number,
  labels = ['legit', 'fraud'],
) {
  assert.equal(cells.length, rows.length - from);
  cells.forEach((cell, i) => {
    const p = expectedP(rows[from + i] as number[]);
    assert.ok(
      Math.abs(Number(cell[probabilityColumn + 1]) - p) < 2e-6,
      `row ${i}: ${cell[probabilityColumn + 1]} vs ${p}`,
    );
    assert.ok(Math.abs(Number(cell[probabilityColumn]) - (1 - p)) < 2e-6);
    assert.equal(cell[labelColumn], labels[p > 0.5 ? 1 : 0]);
  });
}

before(async () => {
  server = await startTestServer();
  dir = await mkdtemp(join(tmpdir(), 'modelport-score-'));
  model = trainFraudModel();
  await writeFile(join(dir, 'model.onnx'), model.onnx);
  signaturePath = join(dir, 'signature.json');
  await writeFile(signaturePath, JSON.stringify(fraudSignature(model)));
  const registered = await run('models', 'register', 'fraud', join(dir, 'model.onnx'), '--alias', 'champion');
  assert.equal(registered.code, 0, registered.stderr);
  rows = generateTransactions(createRandom(7), ROWS).data;
});

after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('modelport score', () => {
  test('CSV by feature name, columns reordered, with --keep, labels and probabilities in input order', async () => {
    // amount first, an id and a class column the model does not take, one quoted field.
    const header = ['id', 'amount', ...model.featureNames.slice(0, 29), 'note'];
    const lines = rows.map((r, i) => [i, r[29], ...r.slice(0, 29), i === 5 ? '"has, comma"' : 'x'].join(','));
    const input = join(dir, 'named.csv');
    await writeFile(input, `${header.join(',')}\r\n${lines.join('\r\n')}\r\n`);
    const output = join(dir, 'named-out.csv');
    const result = await run(
      'score',
      'fraud@champion',
      input,
      '-o',
      output,
      '--keep',
      'id,note',
      '--signature',
      signaturePath,
      '--batch-size',
      '256',
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /scored 3,000 rows \(0 rejected\)/);
    const text = await readFile(output, 'utf8');
    const out = parseCsv(text.replace('"has, comma"', 'has; comma'));
    assert.deepEqual(out.header, ['id', 'note', 'prediction', 'probability_legit', 'probability_fraud']);
    assert.deepEqual(
      out.rows.map((r) => Number(r[0])),
      rows.map((_, i) => i),
    );
    assert.equal(out.rows[5]?.[1], 'has; comma');
    assertScores(out.rows, 0, 3, 2);
    assert.match(text, /^0,x,(legit|fraud),\d\.\d{6},\d\.\d{6}\r?\n/m);
  });

  test('CSV without a header, by position, without a signature: raw outputs', async () => {
    const input = join(dir, 'positional.csv');
    await writeFile(input, `${rows.map((r) => r.join(',')).join('\n')}\n`);
    const output = join(dir, 'positional-out.csv');
    const result = await run('score', 'fraud@1', input, '-o', output);
    assert.equal(result.code, 0, result.stderr);
    const out = parseCsv(await readFile(output, 'utf8'));
    assert.deepEqual(out.header, ['label', 'probabilities_0', 'probabilities_1']);
    out.rows.forEach((cell, i) => {
      const p = expectedP(rows[i] as number[]);
      assert.ok(Math.abs(Number(cell[2]) - p) < 1e-6);
      assert.equal(Number(cell[0]), p > 0.5 ? 1 : 0);
    });
    assert.equal(out.rows.length, ROWS);
  });

  test('JSON lines by name in, JSON lines out, numbers as strings accepted', async () => {
    const input = join(dir, 'rows.jsonl');
    const objects = rows.map((r, i) => ({
      key: `k${i}`,
      ...Object.fromEntries(model.featureNames.map((n, j) => [n, i === 1 && j === 0 ? String(r[j]) : r[j]])),
    }));
    await writeFile(input, `${objects.map((o) => JSON.stringify(o)).join('\n')}\n`);
    const output = join(dir, 'rows-out.jsonl');
    const result = await run('score', 'fraud', input, '-o', output, '--keep', 'key', '--signature', signaturePath);
    assert.equal(result.code, 0, result.stderr);
    const out = (await readFile(output, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; prediction: string; probability_fraud: number });
    assert.equal(out.length, ROWS);
    out.forEach((o, i) => {
      const p = expectedP(rows[i] as number[]);
      assert.equal(o.key, `k${i}`);
      assert.ok(Math.abs(o.probability_fraud - p) < 2e-6);
      assert.equal(o.prediction, p > 0.5 ? 'fraud' : 'legit');
    });
  });

  test('--on-error skip sets bad rows aside with their line numbers and reasons', async () => {
    const header = `id,${model.featureNames.join(',')}`;
    const good = (i: number) => `${i},${(rows[i] as number[]).join(',')}`;
    const lines = [
      header,
      good(0),
      `1,abc,${(rows[1] as number[]).slice(1).join(',')}`, // line 3: not a number
      good(2),
      `3,${(rows[3] as number[]).slice(1).join(',')}`, // line 5: a field short
      `"4\nsplit",${(rows[4] as number[]).join(',')}`, // lines 6-7: embedded newline, a good row
      `5,,${(rows[5] as number[]).slice(1).join(',')}`, // line 8: empty
      good(6),
    ];
    const input = join(dir, 'bad.csv');
    await writeFile(input, `${lines.join('\n')}\n`);
    const output = join(dir, 'bad-out.csv');
    const rejects = join(dir, 'rejects.csv');
    const result = await run(
      'score',
      'fraud',
      input,
      '-o',
      output,
      '--keep',
      'id',
      '--signature',
      signaturePath,
      '--on-error',
      'skip',
      '--rejects',
      rejects,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /scored 4 rows \(3 rejected\)/);
    const out = (await readFile(output, 'utf8')).replace('"4\nsplit"', '4+split').trimEnd().split('\n');
    assert.deepEqual(
      out.slice(1).map((l) => l.split(',')[0]),
      ['0', '2', '4+split', '6'],
    );
    const rejected = (await readFile(rejects, 'utf8')).trimEnd().split('\n');
    assert.equal(rejected[0], 'line,reason,record');
    assert.match(rejected[1] ?? '', /^3,time: 'abc' is not a number,"1,abc,/);
    assert.match(rejected[2] ?? '', /^5,has 30 fields; the header has 31,"3,/);
    assert.match(rejected[3] ?? '', /^8,time is empty,"5,,/);
  });

  test('--on-error fail stops at the first bad row and leaves no output file', async () => {
    const header = model.featureNames.join(',');
    const body = rows.slice(0, 2000).map((r) => r.join(','));
    body[1500] = body[1500]?.replace(/^[^,]+/, 'oops') ?? '';
    const input = join(dir, 'fail.csv');
    await writeFile(input, `${header}\n${body.join('\n')}\n`);
    const outDir = await mkdtemp(join(dir, 'fail-'));
    const result = await run('score', 'fraud', input, '-o', join(outDir, 'out.csv'), '--batch-size', '100');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /line 1502: time: 'oops' is not a number; fix the row, or pass --on-error skip/);
    assert.deepEqual(await readdir(outDir), []);
  });

  test('a clear error names the missing columns', async () => {
    const header = model.featureNames.filter((n) => n !== 'v7' && n !== 'amount');
    const input = join(dir, 'missing.csv');
    await writeFile(input, `${header.join(',')},extra\n${header.map(() => '1').join(',')},2\n`);
    const result = await run('score', 'fraud', input, '-o', join(dir, 'missing-out.csv'), '--signature', signaturePath);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /the input has no column v7, amount; the model takes 30 features/);
    const unnamed = await run('score', 'fraud', input, '-o', join(dir, 'missing-out.csv'));
    assert.match(
      unnamed.stderr,
      /the model takes 30 features but the input has 29 columns and no feature names are known/,
    );
  });

  test("--url scores through the served model's V2 endpoint, with the same results", async () => {
    const input = join(dir, 'url.csv');
    await writeFile(
      input,
      `id,${model.featureNames.join(',')}\n${rows.map((r, i) => `${i},${r.join(',')}`).join('\n')}\n`,
    );
    const output = join(dir, 'url-out.csv');
    const result = await run(
      'score',
      'fraud',
      input,
      '-o',
      output,
      '--url',
      server.url,
      '--keep',
      'id',
      '--signature',
      signaturePath,
      '--batch-size',
      '500',
    );
    assert.equal(result.code, 0, result.stderr);
    const out = parseCsv(await readFile(output, 'utf8'));
    assert.deepEqual(out.header, ['id', 'prediction', 'probability_legit', 'probability_fraud']);
    assert.deepEqual(
      out.rows.map((r) => Number(r[0])),
      rows.map((_, i) => i),
    );
    assertScores(out.rows, 0, 2, 1);
    const missing = await run('score', 'nosuchmodel', input, '-o', output, '--url', server.url);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /the inference endpoint answered 404/);
  });

  test('stdin to stdout through the real CLI process', async () => {
    const csv = `${model.featureNames.join(',')}\n${rows
      .slice(0, 500)
      .map((r) => r.join(','))
      .join('\n')}\n`;
    const child = spawn(
      process.execPath,
      [join(REPO_ROOT, 'bin/modelport.js'), 'score', 'fraud', '-', '--signature', signaturePath],
      {
        env: { ...process.env, MODELPORT_URL: server.url, MODELPORT_CACHE_DIR: join(dir, 'cache') },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdin.end(csv);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, stderr);
    const out = parseCsv(stdout);
    assert.deepEqual(out.header, ['prediction', 'probability_legit', 'probability_fraud']);
    assert.equal(out.rows.length, 500);
    out.rows.forEach((cell, i) => {
      assert.ok(Math.abs(Number(cell[2]) - expectedP(rows[i] as number[])) < 2e-6);
    });
    assert.match(
      stderr,
      /scored 500 rows \(0 rejected\) with fraud@1 \(latest\) in [\d.]+ s, [\d,]+ rows\/s -> stdout/,
    );
  });
  test("without --signature, names and labels come from the version's friendly signature, in process and with --url", async () => {
    const registered = await run('models', 'register', 'named', join(dir, 'model.onnx'));
    assert.equal(registered.code, 0, registered.stderr);
    const signed = await run('models', 'signature', 'named@1', '-f', signaturePath);
    assert.equal(signed.code, 0, signed.stderr);
    // Columns out of the model's order: only names can place them.
    const header = ['id', 'amount', ...model.featureNames.slice(0, 29)];
    const lines = rows.map((r, i) => [i, r[29], ...r.slice(0, 29)].join(','));
    const input = join(dir, 'friendly.csv');
    await writeFile(input, `${header.join(',')}\n${lines.join('\n')}\n`);
    const local = join(dir, 'friendly-local.csv');
    const remote = join(dir, 'friendly-remote.csv');
    const a = await run('score', 'named', input, '-o', local, '--keep', 'id');
    assert.equal(a.code, 0, a.stderr);
    const b = await run('score', 'named', input, '-o', remote, '--keep', 'id', '--url', server.url);
    assert.equal(b.code, 0, b.stderr);
    const out = parseCsv(await readFile(local, 'utf8'));
    assert.deepEqual(out.header, ['id', 'prediction', 'probability_legit', 'probability_fraud']);
    assertScores(out.rows, 0, 2, 1);
    assert.equal(await readFile(remote, 'utf8'), await readFile(local, 'utf8'));
  });
  test('a deployment is scored by its name through --url', async () => {
    // Reuses the previous test's model `named`, its input and its in-process output.
    const created = await run('deployments', 'create', 'scoring-api', '--model', 'named@1', '--wait');
    assert.equal(created.code, 0, created.stderr);
    const input = join(dir, 'friendly.csv');
    const output = join(dir, 'deployment-out.csv');
    const result = await run('score', 'scoring-api', input, '-o', output, '--keep', 'id', '--url', server.url);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await readFile(output, 'utf8'), await readFile(join(dir, 'friendly-local.csv'), 'utf8'));
  });
  test('a deployment is scored by its name in process: the serving revision, its highest weight or @tag', async () => {
    // Reuses `named` (with its friendly signature), its input and its in-process output from the tests above.
    // `other` has other weights but the same signature, so its scores differ from `named`'s.
    const weights = Array.from({ length: 30 }, (_, j) => ((j % 7) - 3) / 10);
    await writeFile(join(dir, 'other.onnx'), buildLogisticRegressionModel({ weights, bias: 0.5, featureCount: 30 }));
    assert.equal((await run('models', 'register', 'other', join(dir, 'other.onnx'))).code, 0);
    assert.equal((await run('models', 'signature', 'other@1', '-f', signaturePath)).code, 0);
    const input = join(dir, 'friendly.csv');
    const named = await readFile(join(dir, 'friendly-local.csv'), 'utf8');
    const otherOut = join(dir, 'other-out.csv');
    assert.equal((await run('score', 'other@1', input, '-o', otherOut, '--keep', 'id')).code, 0);
    const other = await readFile(otherOut, 'utf8');
    assert.notEqual(other, named);

    // The heavier target is listed second: a pick of the first target would score with `other`.
    const split = await run('deployments', 'create', 'batch-api', '--model', 'other@1', '--canary', 'named@1:70');
    assert.equal(split.code, 0, split.stderr);
    const scored = async (name: string) => {
      const output = join(dir, `${name.replace('@', '-')}-out.csv`);
      const result = await run('score', name, input, '-o', output, '--keep', 'id');
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /scored 3,000 rows \(0 rejected\)/);
      return readFile(output, 'utf8');
    };
    assert.equal((await run('deployments', 'wait', 'batch-api')).code, 0);
    assert.equal(await scored('batch-api'), named);
    assert.equal(await scored('batch-api@stable'), other);
    assert.equal(await scored('batch-api@canary'), named);
    const untagged = await run('score', 'batch-api@blue', input, '-o', join(dir, 'blue.csv'));
    assert.equal(untagged.code, 1);
    assert.match(untagged.stderr, /deployment 'batch-api' has no target tagged 'blue'/);

    // A new revision sends all traffic to `other`; rolled back, the first revision's targets score again.
    const applied = join(dir, 'batch-api.yaml');
    await writeFile(applied, 'name: batch-api\nspec:\n  traffic:\n    - { model: other@1, weight: 100 }\n');
    assert.equal((await run('deployments', 'apply', '-f', applied, '--wait')).code, 0);
    assert.equal(await scored('batch-api'), other);
    assert.equal((await run('deployments', 'rollback', 'batch-api')).code, 0);
    assert.equal((await run('deployments', 'wait', 'batch-api')).code, 0);
    assert.equal(await scored('batch-api'), named);

    // A deployment named like a model: the bare name is the deployment (as for the gateway); a version, or an
    // alias the deployment has no tag for, is the model's.
    assert.equal((await run('models', 'alias', 'other', 'best', '1')).code, 0);
    assert.equal((await run('deployments', 'create', 'other', '--model', 'named@1', '--wait')).code, 0);
    assert.equal(await scored('other'), named);
    assert.equal(await scored('other@best'), other);
    assert.equal(await scored('other@1'), other);
  });
});
