/**
 * The build context of `modelport build`: the Dockerfile parses (dockerfile-ast, the parser of VS Code's Dockerfile
 * support) and passes dockerfile-utils' validator, with every required instruction; the folder is the same bytes
 * twice; the checksum step really fails on a tampered model (the script itself, run with sh); the healthcheck
 * script asks /v2/health/ready on a real HTTP server; the SBOM validates against the official CycloneDX 1.6 schema.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Ajv } from 'ajv';
import { DockerfileParser, type Instruction, type Label } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import type { ModelportError } from '../../core/index.ts';
import { DEFAULT_MODEL_TYPES, type ModelType, ModelTypeCatalogue } from '../../modeltypes/index.ts';
import type { ModelVersion } from '../../registry/index.ts';
import { artifactPath, IMAGE_USER, modelPath } from './build-context.ts';
import { createSbom } from './sbom.ts';
import { contextFiles, listContext, readServingLockfile, writeBuildContext } from './write-context.ts';

const run = promisify(execFile);
const ARTIFACT = Buffer.from('not really a model: the build never opens it\n');
const SHA = createHash('sha256').update(ARTIFACT).digest('hex');

let dir: string;
let catalogue: ModelTypeCatalogue;
const types = new Map<string, ModelType>();

const version = (over: Partial<ModelVersion> = {}): ModelVersion => ({
  project: 'default',
  model: 'churn',
  version: 3,
  format: 'container',
  modelType: 'sklearn-1.5',
  sha256: SHA,
  size: ARTIFACT.length,
  signature: { inputs: [{ name: 'input-0', datatype: 'FP64', shape: [-1, 2] }], outputs: [] },
  friendlySignature: null,
  description: '',
  tags: {},
  metrics: {},
  lineage: { source: null, dataCommit: null, pipelineRun: null },
  aliases: [],
  image: null,
  createdAt: '2026-12-01T10:00:00.000Z',
  ...over,
});

async function input(v: ModelVersion, extra: { baseImage?: string } = {}) {
  const type = types.get(v.modelType)!;
  return { version: v, type, template: await catalogue.template(type.name, 'compose'), ...extra };
}

async function* bytes(data: Buffer) {
  yield data;
}

/** Renders the version's context and writes it with `artifact` as the model's bytes. */
async function write(dir: string, v: ModelVersion, artifact: Buffer) {
  return writeBuildContext(dir, { files: await contextFiles(await input(v)), version: v, artifact: bytes(artifact) });
}

const parse = (text: string) => DockerfileParser.parse(text);
const keywords = (text: string) =>
  parse(text)
    .getInstructions()
    .map((i: Instruction) => i.getKeyword());
const labels = (text: string) =>
  Object.fromEntries(
    parse(text)
      .getInstructions()
      .filter((i): i is Label => i.getKeyword() === 'LABEL')
      .flatMap((l) => l.getProperties().map((p) => [p.getName(), p.getValue()?.replace(/^"|"$/g, '')])),
  );

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelport-build-'));
  catalogue = await ModelTypeCatalogue.open(join(dir, 'modeltypes.yaml'), DEFAULT_MODEL_TYPES);
  for (const type of await catalogue.list()) types.set(type.name, type);
});
after(() => rm(dir, { recursive: true, force: true }));

describe('the Dockerfile', () => {
  for (const [name, v] of [
    ['a container type (sklearn-1.5 on MLServer)', version()],
    ['an onnx model (Modelport image)', version({ model: 'fraud', version: 1, format: 'onnx', modelType: 'onnx' })],
  ] as const) {
    test(`${name}: parses, validates and has every required instruction`, async () => {
      const files = await contextFiles(await input(v));
      const dockerfile = files.find((f) => f.path === 'Dockerfile')!.content;
      assert.deepEqual(validate(dockerfile), [], 'dockerfile-utils finds no problem');
      const kinds = keywords(dockerfile);
      for (const k of ['FROM', 'COPY', 'RUN', 'ENV', 'LABEL', 'USER', 'EXPOSE', 'HEALTHCHECK']) {
        assert.ok(kinds.includes(k), `${k} in ${kinds.join(', ')}`);
      }
      assert.equal(kinds[0], 'FROM');
      const from = parse(dockerfile).getFROMs()[0]!;
      assert.equal(from.getArguments()[0]!.getValue(), types.get(v.modelType)!.default_base_image.value);
      // The checksum step comes after the copy and before the user changes.
      const copy = kinds.indexOf('COPY');
      const verify = kinds.indexOf('RUN');
      assert.ok(copy < verify && verify < kinds.lastIndexOf('USER'));
      assert.match(
        dockerfile,
        new RegExp(`RUN \\["sh","/etc/modelport/verify-sha256.sh","${modelPath(v)}","${SHA}"\\]`),
      );
      assert.match(dockerfile, new RegExp(`COPY ${artifactPath(v)} ${modelPath(v)}`));
      const l = labels(dockerfile);
      assert.equal(l['dev.modelport.model'], v.model);
      assert.equal(l['dev.modelport.version'], String(v.version));
      assert.equal(l['dev.modelport.sha256'], SHA);
      assert.equal(l['org.opencontainers.image.title'], v.model);
      assert.equal(l['org.opencontainers.image.version'], String(v.version));
      assert.equal(l['org.opencontainers.image.created'], v.createdAt);
      assert.equal(l['org.opencontainers.image.base.name'], types.get(v.modelType)!.default_base_image.value);
      const user = parse(dockerfile)
        .getInstructions()
        .filter((i) => i.getKeyword() === 'USER')
        .at(-1)!;
      assert.equal(user.getArgumentsContent(), IMAGE_USER);
      assert.notEqual(IMAGE_USER.split(':')[0], '0');
      const health = parse(dockerfile).getHEALTHCHECKs()[0]!;
      assert.equal(health.getSubcommand()?.getValue(), 'CMD');
      assert.match(health.getArgumentsContent() ?? '', /healthcheck\.sh/);
      const script = files.find((f) => f.path === 'modelport/healthcheck.sh')!.content;
      assert.match(script, /\/v2\/health\/ready/);
    });
  }

  test('the type template gives the environment and command: MLServer env, serve-model for onnx', async () => {
    const sk = (await contextFiles(await input(version()))).find((f) => f.path === 'Dockerfile')!.content;
    const env = Object.fromEntries(
      parse(sk)
        .getENVs()
        .flatMap((e) => e.getProperties().map((p) => [p.getName(), p.getValue()?.replace(/^"|"$/g, '')])),
    );
    assert.equal(env['MLSERVER_MODEL_URI'], '/models/churn/3');
    assert.equal(env['MLSERVER_MODEL_NAME'], 'churn');
    const onnx = (
      await contextFiles(await input(version({ model: 'fraud', version: 1, format: 'onnx', modelType: 'onnx' })))
    ).find((f) => f.path === 'Dockerfile')!.content;
    const cmd = parse(onnx).getCMDs()[0]!;
    assert.deepEqual(JSON.parse(cmd.getArgumentsContent()!), [
      'serve-model',
      '--model-uri',
      '/models/fraud/1',
      '--model-name',
      'fraud',
      '--port',
      '8080',
    ]);
    assert.match(onnx, /ENV MODELPORT_SIGNATURE_FILE="\/etc\/modelport\/signature.json"/);
  });

  test('--base-image picks one of the type images; another name is refused naming the field', async () => {
    const files = await contextFiles(await input(version(), { baseImage: 'mlserver-1.5-sklearn' }));
    assert.match(
      files.find((f) => f.path === 'Dockerfile')!.content,
      /^FROM docker.io\/seldonio\/mlserver:1.5.0-sklearn$/m,
    );
    await assert.rejects(
      contextFiles(await input(version(), { baseImage: 'tensorflow-2' })),
      (e: ModelportError) =>
        e.code === 'invalid_request' &&
        e.field === 'baseImage' &&
        /not one of the images of the model type 'sklearn-1.5' \(mlserver-1.6-sklearn, mlserver-1.5-sklearn\)/.test(
          e.message,
        ),
    );
  });

  test('a model that IS an image has nothing to build: refused, naming the image', async () => {
    await assert.rejects(
      contextFiles(await input(version({ modelType: 'sas-scr', image: 'registry.example.com/sas/scorer:1.4' }))),
      (e: ModelportError) =>
        e.code === 'invalid_request' &&
        e.field === 'model' &&
        /is the image registry.example.com\/sas\/scorer:1.4 itself, so there is nothing to build/.test(e.message),
    );
  });

  test('values are quoted so that nothing is expanded: a $ in a description stays a $', async () => {
    const files = await contextFiles(await input(version({ description: 'costs $HOME "quoted" \\ back' })));
    const dockerfile = files.find((f) => f.path === 'Dockerfile')!.content;
    assert.ok(dockerfile.includes('org.opencontainers.image.description="costs \\$HOME \\"quoted\\" \\\\ back"'));
    // dockerfile-ast unescapes \" and \\ and keeps \$ (Docker reads it as a literal $, never a variable).
    const l = labels(dockerfile);
    assert.equal(l['org.opencontainers.image.description']?.replace(/\\\$/g, '$'), 'costs $HOME "quoted" \\ back');
  });
});

describe('the context folder', () => {
  test('is the same bytes twice, with fixed mtimes', async () => {
    const a = join(dir, 'ctx-a');
    const b = join(dir, 'ctx-b');
    await write(a, version(), ARTIFACT);
    await write(b, version(), ARTIFACT);
    const paths = await listContext(a);
    assert.deepEqual(paths, await listContext(b));
    assert.deepEqual(paths, [
      '.dockerignore',
      'Dockerfile',
      artifactPath(version()),
      'modelport/healthcheck.sh',
      'modelport/sbom.cdx.json',
      'modelport/signature.json',
      'modelport/verify-sha256.sh',
    ]);
    for (const p of paths) {
      assert.deepEqual(await readFile(join(a, p)), await readFile(join(b, p)), p);
      assert.equal((await stat(join(a, p))).mtime.toISOString(), version().createdAt, p);
    }
    // Written again over itself: an earlier context is replaced, the same bytes again.
    await write(a, version(), ARTIFACT);
    assert.deepEqual(await listContext(a), paths);
  });

  test('a download that is not the registered artifact is refused and not kept', async () => {
    const c = join(dir, 'ctx-bad');
    await assert.rejects(
      write(c, version(), Buffer.from('other bytes')),
      (e: ModelportError) => e.code === 'artifact_corrupt' && /not the registered/.test(e.message),
    );
    assert.equal(
      (await listContext(c)).some((p) => p.startsWith('model/')),
      false,
    );
  });

  test('a file that would leave the folder is refused (the files may come from a server)', async () => {
    const c = join(dir, 'ctx-escape');
    await assert.rejects(
      writeBuildContext(c, {
        files: [{ path: '../outside', content: 'x', mode: 0o644 }],
        version: version(),
        artifact: bytes(ARTIFACT),
      }),
      /may not leave the folder: \.\.\/outside/,
    );
    await assert.rejects(stat(join(dir, 'outside')));
  });

  test('a folder holding other files is refused (they would go into the image)', async () => {
    const c = join(dir, 'ctx-other');
    await mkdir(c);
    await writeFile(join(c, 'notes.txt'), 'mine');
    await assert.rejects(
      write(c, version(), ARTIFACT),
      (e: ModelportError) => e.field === 'output' && /not empty/.test(e.message),
    );
    assert.equal(await readFile(join(c, 'notes.txt'), 'utf8'), 'mine');
  });
});

describe('the scripts the image build runs', () => {
  let ctx: string;
  before(async () => {
    ctx = join(dir, 'ctx-scripts');
    await write(ctx, version(), ARTIFACT);
  });

  const verify = (file: string, env?: NodeJS.ProcessEnv) =>
    run('/bin/sh', [join(ctx, 'modelport/verify-sha256.sh'), file, SHA], { env }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  test('the checksum step passes on the artifact and fails the build on a tampered one', async () => {
    const file = join(ctx, artifactPath(version()));
    const ok = await verify(file);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /verified/);
    const tampered = join(dir, 'tampered');
    await writeFile(tampered, ARTIFACT);
    await appendFile(tampered, 'x');
    const bad = await verify(tampered);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, new RegExp(`but the registered model has ${SHA}`));
    const missing = await verify(join(dir, 'absent'));
    assert.equal(missing.code, 1);
  });

  test('with no sha256sum in the image, the check falls back to node and still fails on tampering', async () => {
    const bin = join(dir, 'only-node');
    await mkdir(bin, { recursive: true });
    await symlink(process.execPath, join(bin, 'node')).catch(() => undefined);
    const tampered = join(dir, 'tampered-2');
    await writeFile(tampered, Buffer.concat([ARTIFACT, Buffer.from('y')]));
    const bad = await verify(tampered, { PATH: bin });
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /but the registered model has/);
    const ok = await verify(join(ctx, artifactPath(version())), { PATH: bin });
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('the healthcheck asks /v2/health/ready: 0 when ready, non-zero when not', async () => {
    let ready = true;
    const asked: string[] = [];
    const server = createServer((req, res) => {
      asked.push(req.url ?? '');
      res.writeHead(req.url === '/v2/health/ready' && ready ? 200 : 503).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = String((server.address() as { port: number }).port);
    const check = () =>
      run('/bin/sh', [join(ctx, 'modelport/healthcheck.sh'), port]).then(
        () => 0,
        (e: { code: number }) => e.code,
      );
    try {
      assert.equal(await check(), 0);
      ready = false;
      assert.notEqual(await check(), 0);
      assert.ok(asked.every((u) => u === '/v2/health/ready'));
    } finally {
      server.close();
    }
  });
});

describe('the SBOM', () => {
  const schemas = new URL('../schemas/cyclonedx/', import.meta.url);
  const load = (name: string) => JSON.parse(readFileSync(new URL(name, schemas), 'utf8')) as object;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema(load('spdx.schema.json'));
  ajv.addSchema(load('jsf-0.82.schema.json'));
  const validateBom = ajv.compile(load('bom-1.6.schema.json'));

  test("Modelport's image: valid CycloneDX 1.6 with every production package of the lockfile and no dev one", async () => {
    const onnx = version({ model: 'fraud', version: 1, format: 'onnx', modelType: 'onnx' });
    const files = await contextFiles(await input(onnx));
    const text = files.find((f) => f.path === 'modelport/sbom.cdx.json')!.content;
    const bom = JSON.parse(text) as {
      specVersion: string;
      metadata: { timestamp: string };
      components: { type: string; purl?: string; name: string; hashes?: { alg: string }[]; scope?: string }[];
      dependencies: { ref: string; dependsOn?: string[] }[];
    };
    assert.equal(validateBom(bom), true, JSON.stringify(validateBom.errors?.slice(0, 3)));
    assert.equal(bom.specVersion, '1.6');
    assert.equal(bom.metadata.timestamp, onnx.createdAt);
    const lock = await readServingLockfile();
    const prod = Object.entries(lock.packages ?? {}).filter(([p, v]) => p.includes('node_modules/') && !v.dev);
    const dev = Object.entries(lock.packages ?? {}).filter(([p, v]) => p.includes('node_modules/') && v.dev);
    const purls = new Set(bom.components.map((c) => c.purl));
    assert.ok(prod.length > 50);
    const yaml = lock.packages?.['node_modules/yaml']?.version;
    assert.ok(purls.has(`pkg:npm/yaml@${yaml}`));
    assert.ok(purls.has(`pkg:npm/%40aws-sdk/client-s3@${lock.packages?.['node_modules/@aws-sdk/client-s3']?.version}`));
    for (const [path, v] of dev) {
      const name = path.slice(path.lastIndexOf('node_modules/') + 13);
      const purl = `pkg:npm/${name.replace(/^@/, '%40')}@${v.version}`;
      if (!prod.some(([p, pv]) => p.endsWith(`node_modules/${name}`) && pv.version === v.version)) {
        assert.equal(purls.has(purl), false, `dev package ${purl} is not in the image`);
      }
    }
    const model = bom.components.find((c) => c.type === 'machine-learning-model')!;
    assert.deepEqual(model.hashes, [{ alg: 'SHA-256', content: SHA }]);
    assert.ok(bom.components.filter((c) => c.type === 'library').every((c) => c.hashes?.[0]?.alg === 'SHA-512'));
    const app = bom.dependencies.find((d) => d.ref.startsWith('pkg:npm/modelport@'))!;
    assert.ok(app.dependsOn?.includes(`pkg:npm/yaml@${yaml}`));
    // Deterministic: the same input, the same bytes.
    const again = (await contextFiles(await input(onnx))).find((f) => f.path === 'modelport/sbom.cdx.json')!.content;
    assert.equal(again, text);
  });

  test('a container type: the model and the base image, no Node packages, still valid', async () => {
    const files = await contextFiles(await input(version()));
    const bom = JSON.parse(files.find((f) => f.path === 'modelport/sbom.cdx.json')!.content) as {
      components: { type: string; name: string }[];
    };
    assert.equal(validateBom(bom), true, JSON.stringify(validateBom.errors?.slice(0, 3)));
    assert.deepEqual(
      bom.components.map((c) => c.type),
      ['container', 'machine-learning-model'],
    );
    assert.equal(bom.components[0]!.name, 'docker.io/seldonio/mlserver:1.6.1-sklearn');
  });

  test('a broken SBOM is caught by the schema (the check can fail)', () => {
    const bom = createSbom({ version: version(), baseImage: 'x' }) as { components: { type: string }[] };
    bom.components[0]!.type = 'docker-image';
    assert.equal(validateBom(bom), false);
  });
});
