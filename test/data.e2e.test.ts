/**
 * Data repositories end to end, from the CLI and the client, on both store pairs (SQLite + folder and
 * PostgreSQL + S3): version a folder, look at it, get it back verified, profile its CSV, branch and tag, diff,
 * refuse bad input without changing anything, pin a model's lineage to a commit, and collect garbage.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ModelportApiError, ModelportClient } from '../src/client/client.ts';
import { compileServerConfig } from '../src/core/config.ts';
import { memoryLogger } from '../src/logging/index.ts';
import { buildLogisticRegressionModel } from '../src/onnx-builder/index.ts';
import { startServer } from '../src/server/server.ts';
import { cli, cliJson } from './support/cli.ts';
import { REPO_ROOT, STORE_KINDS, startTestServer, type TestServer } from './support/server.ts';

interface CommitResult {
  commit: {
    id: string;
    files: number;
    branch: string;
    author: string;
    changes: { added: number; changed: number; removed: number };
  };
  created: boolean;
}

const TRAIN_ROWS = 200;
const train = ['amount,country,score'];
for (let i = 0; i < TRAIN_ROWS; i++)
  train.push(`${i % 50},${['fr', 'de', 'us'][i % 3]},${i % 7 === 0 ? '' : (i * 0.5).toFixed(1)}`);
const TRAIN_CSV = `${train.join('\n')}\n`;
const BAD_CSV = 'a,b,c\n1,2,3\n4,5,6\n7,8,9\n10,11,12,13\n';

for (const kind of STORE_KINDS) {
  describe(`data repositories [${kind}]`, { timeout: 180_000 }, () => {
    let t: TestServer;
    let work: string;
    let mp: ModelportClient;
    const run = (...argv: string[]) => cli(t.url, ...argv);
    const runJson = <T>(...argv: string[]) => cliJson<T>(t.url, ...argv);

    before(async () => {
      t = await startTestServer(kind, { maxUploadSize: '64KiB' });
      mp = new ModelportClient({ url: t.url });
      work = await mkdtemp(join(tmpdir(), 'modelport-data-e2e-'));
      await mkdir(join(work, 'ds', 'data', 'labels'), { recursive: true });
      await writeFile(join(work, 'ds', 'data', 'train.csv'), TRAIN_CSV);
      await writeFile(join(work, 'ds', 'data', 'labels', 'a.txt'), 'cat\n');
      await writeFile(join(work, 'ds', 'data', 'labels', 'b.txt'), 'dog\n');
      await writeFile(join(work, 'bad.csv'), BAD_CSV);
      await writeFile(join(work, 'big.bin'), Buffer.alloc(100 * 1024, 7));
      await mkdir(join(work, 'empty'));
    });
    after(async () => {
      await t?.close();
      await rm(work, { recursive: true, force: true });
    });

    test('version a folder, list it, get it back verified, and see its history', async () => {
      await runJson('data', 'repos', 'create', 'images', '--description', 'pets');
      const first = await runJson<CommitResult>('data', 'put', 'images', join(work, 'ds'), '-m', 'first import');
      assert.equal(first.created, true);
      assert.equal(first.commit.files, 3);
      assert.equal(first.commit.author, 'local', "the author is the caller's subject");
      assert.deepEqual(first.commit.changes, { added: 3, changed: 0, removed: 0 });

      const root = await runJson<{ entries: { path: string; type: string; files?: number }[] }>(
        'data',
        'ls',
        'images@main',
      );
      assert.deepEqual(
        root.entries.map((e) => [e.path, e.type, e.files]),
        [['data', 'folder', 3]],
      );
      const deep = await runJson<{ entries: { path: string }[] }>('data', 'ls', 'images@main', 'data', '-r');
      assert.deepEqual(
        deep.entries.map((e) => e.path),
        ['data/labels/a.txt', 'data/labels/b.txt', 'data/train.csv'],
      );

      const out = join(work, 'got.csv');
      const got = await run('data', 'get', 'images@main:data/train.csv', '-o', out);
      assert.equal(got.code, 0, got.stderr);
      assert.equal(await readFile(out, 'utf8'), TRAIN_CSV);
      const folder = await run(
        'data',
        'get',
        `images@${first.commit.id.slice(0, 10)}:data/labels`,
        '-o',
        join(work, 'labels'),
      );
      assert.equal(folder.code, 0, folder.stderr);
      assert.deepEqual((await readdir(join(work, 'labels'))).sort(), ['a.txt', 'b.txt']);

      const second = await runJson<CommitResult>(
        'data',
        'put',
        'images',
        join(work, 'bad.csv'),
        'data/bad.csv',
        '-m',
        'add a broken csv',
      );
      assert.equal(second.commit.changes.added, 1);
      const log = await runJson<{ id: string; message: string }[]>('data', 'log', 'images');
      assert.deepEqual(
        log.map((c) => c.message),
        ['add a broken csv', 'first import'],
      );
      const diff = await runJson<{ added: { path: string; size: number }[]; totals: { added: number } }>(
        'data',
        'diff',
        'images',
        'main~1',
        'main',
      );
      assert.deepEqual(
        diff.added.map((e) => [e.path, e.size]),
        [['data/bad.csv', BAD_CSV.length]],
      );
      const table = await run('data', 'diff', 'images', 'main~1', 'main');
      assert.match(table.stdout, /\+\s+data\/bad\.csv/);
    });

    test('profiles: statistics and a histogram for a CSV; a malformed CSV says which line', async () => {
      const profile = await runJson<{
        state: string;
        profile: {
          rows: number;
          columns: {
            name: string;
            type: string;
            nulls: number;
            histogram: { count: number }[] | null;
            top: { value: string }[] | null;
            min: unknown;
            max: unknown;
          }[];
        };
      }>('data', 'profile', 'images@main:data/train.csv', '--wait');
      assert.equal(profile.state, 'ready');
      assert.equal(profile.profile.rows, TRAIN_ROWS);
      const [amount, country, score] = profile.profile.columns;
      assert.deepEqual([amount!.name, amount!.min, amount!.max], ['amount', 0, 49]);
      assert.equal(
        amount!.histogram!.reduce((n, b) => n + b.count, 0),
        TRAIN_ROWS,
        'every row is in a bin',
      );
      assert.deepEqual(country!.top!.map((v) => v.value).sort(), ['de', 'fr', 'us']);
      assert.equal(score!.nulls, Math.ceil(TRAIN_ROWS / 7));
      assert.equal(
        score!.histogram!.reduce((n, b) => n + b.count, 0),
        TRAIN_ROWS - score!.nulls,
        'nulls are in no bin',
      );
      const bad = await run('data', 'profile', 'images@main:data/bad.csv', '--wait');
      assert.equal(bad.code, 1, 'a failed profile exits non-zero');
      assert.match(bad.stdout, /failed: malformed CSV at line 5/);
      // The commit itself landed.
      assert.equal((await mp.getCommit('images', 'main')).changes.added, 1);
    });

    test('branches and tags resolve wherever a commit is named', async () => {
      await runJson('data', 'tag', 'create', 'images', 'v1', 'main~1');
      await runJson('data', 'branch', 'create', 'images', 'dev', '--from', 'v1');
      const dev = await runJson<CommitResult>('data', 'rm', 'images@dev', 'data/labels', '-m', 'drop labels');
      assert.deepEqual(dev.commit.changes, { added: 0, changed: 0, removed: 2 });
      assert.equal(dev.commit.branch, 'dev');
      const branches = await runJson<{ name: string; head: string }[]>('data', 'branch', 'list', 'images');
      assert.deepEqual(
        branches.map((b) => b.name),
        ['dev', 'main'],
      );
      const main = await mp.getCommit('images', 'main');
      assert.notEqual(branches[0]!.head, main.id);
      await runJson('data', 'branch', 'reset', 'images', 'dev', 'main');
      assert.equal((await mp.getCommit('images', 'dev')).id, main.id);
      await runJson('data', 'branch', 'delete', 'images', 'dev');
      const tags = await runJson<{ name: string; commit: string }[]>('data', 'tag', 'list', 'images');
      assert.equal(tags[0]!.commit, (await mp.getCommit('images', 'main~1')).id);
    });

    test('bad input names the field and the fix; nothing stored changes', async () => {
      const head = (await mp.getCommit('images', 'main')).id;
      const file = join(work, 'bad.csv');
      const cases: [string[], RegExp][] = [
        [
          ['data', 'put', 'images', file, '../escape.csv', '-m', 'm'],
          /query\.path: '\.\.\/escape\.csv' contains '\.\.'.*\(invalid_request\)/,
        ],
        [
          ['data', 'put', 'images', file, '/etc/passwd', '-m', 'm'],
          /is absolute; use a path relative to the repository root.*\(invalid_request\)/,
        ],
        [
          ['data', 'put', 'images', file, 'a\u0001b.csv', '-m', 'm'],
          /a\\x01b\.csv' contains a NUL or control character.*\(invalid_request\)/,
        ],
        [['data', 'repos', 'create', 'Bad_Name'], /not a valid name.*\(invalid_request\)/],
        [['data', 'ls', 'images@deadbeef'], /commit 'deadbeef' in 'images' .*not found \(not_found\)/],
        [
          ['data', 'put', 'images', join(work, 'big.bin'), 'big.bin', '-m', 'm'],
          /larger than the limit of 65536 bytes \(payload_too_large\)/,
        ],
        [['data', 'put', 'images', join(work, 'empty'), '-m', 'm'], /holds no files; an empty put commits nothing/],
        [['data', 'put', 'images', file, 'x.csv'], /say what the commit changes with -m MESSAGE/],
        [['data', 'put', 'images@nobranch', file, 'x.csv', '-m', 'm'], /branch 'nobranch' of 'images' not found/],
      ];
      for (const [argv, expected] of cases) {
        const result = await run(...argv);
        assert.notEqual(result.code, 0, `${argv.join(' ')} should fail`);
        assert.match(result.stderr, expected, argv.join(' '));
      }
      await assert.rejects(
        mp.putFile('images', 'empty.csv', new Uint8Array(0), { message: 'empty' }),
        (e: unknown) => e instanceof ModelportApiError && e.code === 'invalid_request' && e.field === 'body',
      );
      await assert.rejects(
        mp.putFile('images', 'x.csv', new TextEncoder().encode('x'), { message: 'm', expect: 'a'.repeat(64) }),
        (e: unknown) => e instanceof ModelportApiError && e.code === 'conflict' && e.field === 'expect',
      );
      assert.equal((await mp.getCommit('images', 'main')).id, head, 'the branch did not move');
      assert.equal((await mp.listCommits('images')).length, 2);
    });

    test("a model's dataCommit must name a commit of the project, and is pinned to its id", async () => {
      const onnx = buildLogisticRegressionModel({ weights: [1, 2], bias: 0, featureCount: 2 });
      const head = await mp.getCommit('images', 'main');
      const version = await mp.registerVersion('trained', onnx, { dataCommit: 'images@main' });
      assert.equal(version.lineage.dataCommit, `images@${head.id}`);
      await assert.rejects(
        mp.registerVersion('trained', onnx, { dataCommit: 'images@nosuchbranch' }),
        (e: unknown) => e instanceof ModelportApiError && e.code === 'not_found' && e.field === 'dataCommit',
      );
      await assert.rejects(
        mp.registerVersion('trained', onnx, { dataCommit: 'ghost@main' }),
        (e: unknown) => e instanceof ModelportApiError && e.code === 'not_found' && e.field === 'dataCommit',
      );
      assert.equal((await mp.listVersions('trained')).length, 1, 'refused versions store nothing');
    });

    test('every commit is one data.commit event, in order', async () => {
      const events = await mp.listEvents({ type: 'data.commit' });
      assert.ok(events.length >= 3);
      const ids = events.map((e) => e.id);
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => a - b),
      );
      assert.equal(events.at(-1)!.payload['repo'], 'images');
      const after = await mp.listEvents({ after: events.at(-2)!.id, type: 'data.commit' });
      assert.deepEqual(
        after.map((e) => e.id),
        [events.at(-1)!.id],
      );
    });

    test('gc removes what a deleted repository alone named and keeps what a model pins', async () => {
      await mp.createRepo('scratch');
      await mp.putFile('scratch', 'only-here.txt', new TextEncoder().encode('scratch only'), { message: 's' });
      const young = await mp.collectGarbage({});
      assert.equal(young.blobsDeleted, 0, 'within the grace period nothing goes');
      await mp.deleteRepo('scratch');
      const report = await runJson<{ blobsDeleted: number; commitsDeleted: number }>('gc', '--grace', '0s');
      assert.ok(report.blobsDeleted >= 2, `scratch's file and tree go (${JSON.stringify(report)})`);
      // The images repository and the model survive whole.
      const out = join(work, 'after-gc.csv');
      assert.equal((await run('data', 'get', 'images@v1:data/train.csv', '-o', out)).code, 0);
      assert.equal(await readFile(out, 'utf8'), TRAIN_CSV);
      for await (const _ of (await mp.downloadArtifact('trained', 1)).body);
      assert.equal((await runJson<{ blobsDeleted: number }>('gc', '--grace', '0s')).blobsDeleted, 0);
    });
  });
}

test('the server removes temporary files of interrupted uploads when it starts', async () => {
  const home = await mkdtemp(join(tmpdir(), 'modelport-sweep-'));
  try {
    await mkdir(join(home, 'tmp', 'uploads'), { recursive: true });
    await mkdir(join(home, 'artifacts', 'tmp'), { recursive: true });
    await writeFile(join(home, 'tmp', 'uploads', 'killed.part'), 'half an upload');
    await writeFile(join(home, 'artifacts', 'tmp', 'killed-put.part'), 'half a put');
    const config = compileServerConfig({ home, port: '0', grpcPort: '0', example: 'false' });
    const log = memoryLogger();
    const server = await startServer(config, { log, version: 'test', examplesDir: join(REPO_ROOT, 'examples') });
    await server.close();
    assert.deepEqual(await readdir(join(home, 'tmp', 'uploads')), []);
    assert.deepEqual(await readdir(join(home, 'artifacts', 'tmp')), []);
    assert.match(log.text(), /removed temporary files of interrupted uploads/);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});
