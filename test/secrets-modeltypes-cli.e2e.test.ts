/**
 * Secrets and model types end to end: the `modelport` CLI against a running server. A canary secret value must never
 * come back in any output, API answer, error body, log line or (on SQLite) the database file.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ModelType } from '../src/modeltypes/model-type.ts';
import { cli, cliJson } from './support/cli.ts';
import { REPO_ROOT, STORE_KINDS, startTestServer, type TestServer } from './support/server.ts';

const CANARY = 'canary-e2e-41c9d2-never-print';

let files: string;
before(async () => {
  files = await mkdtemp(join(tmpdir(), 'modelport-secrets-cli-'));
  await writeFile(join(files, 'token.txt'), `${CANARY}\n`);
  await writeFile(join(files, 'other.txt'), 'second value');
  await writeFile(
    join(files, 'xgboost.yaml'),
    [
      'name: xgboost-2.1',
      'runtime: container',
      'default_base_image: { name: mlserver-xgb, value: docker.io/seldonio/mlserver:1.6.1-xgboost }',
      'available_base_images:',
      '  - { name: mlserver-xgb, value: docker.io/seldonio/mlserver:1.6.1-xgboost }',
      'templates:',
      '  kubernetes: |',
      '    image: "{{ image }}"',
      '  compose: { ref: sklearn-1.5 }',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(files, 'bad-runtime.yaml'),
    (await readFile(join(files, 'xgboost.yaml'), 'utf8'))
      .replace('runtime: container', 'runtime: docker')
      .replace('xgboost-2.1', 'bad'),
  );
});
after(() => rm(files, { recursive: true, force: true }));

for (const kind of STORE_KINDS) {
  describe(`secrets and model types through the CLI [${kind}]`, () => {
    let t: TestServer;
    const outputs: string[] = [];
    const run = async (...argv: string[]) => {
      const result = await cli(t.url, ...argv);
      outputs.push(result.stdout, result.stderr);
      return result;
    };
    before(async () => {
      t = await startTestServer(kind);
    });
    after(async () => {
      await t.close();
    });

    test('secrets: set from a file, list names only, replace, delete; the value never comes back', async () => {
      const created = await run('secrets', 'set', 'API_TOKEN', '--from-file', join(files, 'token.txt'));
      assert.equal(created.code, 0, created.stderr);
      assert.equal(created.stdout, 'created secret API_TOKEN\n');
      assert.equal(
        (await run('secrets', 'set', 'API_TOKEN', '--from-file', join(files, 'token.txt'))).stdout,
        'updated secret API_TOKEN\n',
      );
      await run('secrets', 'set', 'OTHER', '--from-file', join(files, 'other.txt'));

      const listed = await run('secrets', 'list');
      assert.match(listed.stdout, /^NAME\s+CREATED\s+UPDATED\n/);
      assert.match(listed.stdout, /^API_TOKEN\s/m);
      const json = await cliJson<{ name: string }[]>(t.url, 'secrets', 'list');
      assert.deepEqual(
        json.map((s) => s.name),
        ['API_TOKEN', 'OTHER'],
      );
      assert.deepEqual(Object.keys(json[0]!).sort(), ['createdAt', 'name', 'updatedAt']);

      assert.equal((await run('secrets', 'delete', 'OTHER')).stdout, 'deleted secret OTHER\n');
      const missing = await run('secrets', 'delete', 'OTHER');
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /secret 'OTHER' in project 'default' not found \(not_found\)/);
    });

    test('secrets set --from-stdin reads the value piped in, as a shell pipe gives it', async () => {
      const child = spawn(
        join(REPO_ROOT, 'node_modules', '.bin', 'node'),
        [join(REPO_ROOT, 'bin', 'modelport.js'), 'secrets', 'set', 'PIPED', '--from-stdin'],
        { env: { PATH: process.env['PATH'] ?? '', MODELPORT_URL: t.url }, stdio: ['pipe', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      child.stdin.end(`${CANARY}\n`);
      const [code] = (await once(child, 'exit')) as [number];
      outputs.push(stdout, stderr);
      assert.equal(code, 0, stderr);
      assert.equal(stdout, 'created secret PIPED\n');
      const names = (await cliJson<{ name: string }[]>(t.url, 'secrets', 'list')).map((s) => s.name);
      assert.ok(names.includes('PIPED'));
      assert.equal((await run('secrets', 'delete', 'PIPED')).code, 0);
    });

    test('secrets: usage and validation errors', async () => {
      const both = await run('secrets', 'set', 'X', '--from-file', join(files, 'token.txt'), '--from-stdin');
      assert.equal(both.code, 2);
      assert.match(both.stderr, /exactly one of --from-file F or --from-stdin/);
      const lower = await run('secrets', 'set', 'api_token', '--from-file', join(files, 'token.txt'));
      assert.equal(lower.code, 1);
      assert.match(lower.stderr, /'api_token' is not a secret name.*\(invalid_request\)/);
      const project = await run('secrets', 'list', '--project', 'nope');
      assert.match(project.stderr, /project 'nope' not found/);
    });

    test('secrets rotate-key re-encrypts under a new key file', async () => {
      const before = await readFile(join(t.home, 'secret.key'), 'utf8');
      const rotated = await run('secrets', 'rotate-key');
      assert.equal(rotated.code, 0, rotated.stderr);
      assert.match(rotated.stdout, /^re-encrypted [1-9]\d* secret\(s\) under key [0-9a-f]{16}\n$/);
      assert.notEqual(await readFile(join(t.home, 'secret.key'), 'utf8'), before);
      assert.equal((await run('secrets', 'list')).code, 0);
    });

    test('model types: list, show, add -f, add-image, set-default-image, update (PUT), and clear errors', async () => {
      const list = await run('modeltypes', 'list');
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /^NAME\s+RUNTIME\s+DEFAULT IMAGE\s+IMAGES\n/);
      assert.match(list.stdout, /^sklearn-1\.5\s+container\s+docker\.io\/seldonio\/mlserver:1\.6\.1-sklearn\s+2$/m);
      const show = await run('modeltypes', 'show', 'js');
      assert.match(show.stdout, /^runtime:\s+js$/m);
      assert.match(show.stdout, /^kubernetes template: the one of onnx \(ref\)$/m);
      // A template is printed as written, and image names in full.
      const sklearn = await run('modeltypes', 'show', 'sklearn-1.5');
      assert.match(
        sklearn.stdout,
        /^kubernetes template:\n {2}name: "\{\{ name \}\}"\n {2}image: "\{\{ image \}\}"\n/m,
      );
      assert.match(sklearn.stdout, /^ {4}- name: http1$/m);
      assert.match(sklearn.stdout, /^mlserver-1\.5-sklearn\s+docker\.io\/seldonio\/mlserver:1\.5\.0-sklearn$/m);
      assert.match(sklearn.stdout, /^compose template:/m);

      const added = await cliJson<ModelType>(t.url, 'modeltypes', 'add', '-f', join(files, 'xgboost.yaml'));
      assert.equal(added.runtime, 'container');
      const image = await run(
        'modeltypes',
        'add-image',
        'xgboost-2.1',
        'mlserver-xgb-1.7',
        'docker.io/seldonio/mlserver:1.7.0-xgboost',
      );
      assert.equal(image.code, 0, image.stderr);
      const def = await run('modeltypes', 'set-default-image', 'xgboost-2.1', 'mlserver-xgb-1.7');
      assert.equal(
        def.stdout,
        'xgboost-2.1: default image mlserver-xgb-1.7 (docker.io/seldonio/mlserver:1.7.0-xgboost)\n',
      );
      const shown = await cliJson<ModelType>(t.url, 'modeltypes', 'show', 'xgboost-2.1');
      assert.equal(shown.default_base_image.name, 'mlserver-xgb-1.7');
      assert.match(await readFile(join(t.home, 'modeltypes.yaml'), 'utf8'), /mlserver-xgb-1\.7/);

      // The API replaces a type as a whole (PUT), checked like an addition.
      const put = (name: string, body: unknown) =>
        fetch(`${t.url}/api/v1/modeltypes/${name}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const updated = await put('xgboost-2.1', { ...shown, description: 'XGBoost 2.1 on MLServer' });
      assert.equal(updated.status, 200, await updated.clone().text());
      assert.equal(((await updated.json()) as ModelType).description, 'XGBoost 2.1 on MLServer');
      const renamed = await put('xgboost-2.1', { ...shown, name: 'xgboost-2.2' });
      assert.equal(renamed.status, 400);
      assert.match(await renamed.text(), /cannot be renamed/);
      assert.equal((await put('nope', { ...shown, name: 'nope' })).status, 404);

      const errors: [string[], RegExp][] = [
        [
          ['modeltypes', 'add', '-f', join(files, 'bad-runtime.yaml')],
          /body\.runtime: unknown runtime 'docker'.*\(invalid_request\)/,
        ],
        [['modeltypes', 'add', '-f', join(files, 'xgboost.yaml')], /already exists.*\(already_exists\)/],
        [
          ['modeltypes', 'set-default-image', 'xgboost-2.1', 'nope'],
          /base image 'nope' of model type 'xgboost-2\.1'.*not found/,
        ],
        [['modeltypes', 'show', 'nope'], /model type 'nope' not found \(not_found\)/],
        [['modeltypes', 'add-image', 'onnx', 'Bad Name', 'x'], /body\.name.*\(invalid_request\)/],
      ];
      for (const [argv, message] of errors) {
        const result = await run(...argv);
        assert.equal(result.code, 1, `${argv.join(' ')}: ${result.stdout}`);
        assert.match(result.stderr, message);
      }
    });

    test('no output, log line or database row carries the canary value', async () => {
      for (const text of [...outputs, t.logText()]) assert.ok(!text.includes(CANARY), text);
      if (kind === 'embedded') {
        const read = (file: string) => readFile(join(t.home, file)).catch(() => Buffer.alloc(0));
        const bytes = Buffer.concat([await read('modelport.db'), await read('modelport.db-wal')]);
        assert.ok(bytes.includes(Buffer.from('API_TOKEN')), 'the check reads the real database');
        assert.ok(!bytes.includes(Buffer.from(CANARY)));
      }
    });
  });
}
