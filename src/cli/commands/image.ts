/**
 * The commands Modelport's image runs (see README "Kubernetes and docker-compose"):
 *
 * - `serve-model --model-uri URI --model-name NAME [--port 8080] [--grpc-port 8081]`: one model in single-model
 *   mode (V2 REST and gRPC), from `s3://bucket/prefix/sha256/<hex>` or a file; URI and name default to
 *   STORAGE_URI and MODEL_NAME. S3 access comes from AWS_ENDPOINT_URL_S3, AWS_REGION and the AWS_* keys.
 * - `fetch-models --manifest models.json --to DIR`: the compose bundle's model download, from MODELPORT_ARTIFACTS
 *   (`s3://...` or a folder); exits 0 once every model is in place and verified.
 * - `gateway --routes routes.json [--port 8080]`: the compose bundle's gateway, routing by deployment or model name
 *   and the `model-id` header to the serving services listed in the bundle's `base/gateway/routes.json`.
 */
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Settings } from '../../core/index.ts';
import { parseDuration, parseSize, reservedEnvReason } from '../../core/index.ts';
import { type FriendlySignature, parseFriendlySignature } from '../../signatures/index.ts';
import { defineCommand, UsageError } from '../command.ts';
import { commandLogger } from '../log.ts';

type Env = Readonly<Record<string, string | undefined>>;

function s3FromEnv(env: Env): Partial<S3Settings> {
  return {
    endpoint: env['AWS_ENDPOINT_URL_S3'] || env['AWS_ENDPOINT_URL'] || undefined,
    region: env['AWS_REGION'] || env['AWS_DEFAULT_REGION'] || undefined,
    accessKeyId: env['AWS_ACCESS_KEY_ID'] || undefined,
    secretAccessKey: env['AWS_SECRET_ACCESS_KEY'] || undefined,
    sessionToken: env['AWS_SESSION_TOKEN'] || undefined,
  };
}

function portOption(value: string | boolean | string[] | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw new UsageError(`--${name} takes a port from 0 to 65535, not '${String(value)}'`);
  }
  return Number(value);
}

/** The friendly signature of a compose bundle's `signatures/<service>.json` (null when the version has none). */
async function readBundleSignature(path: string): Promise<FriendlySignature | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new UsageError(`--signature-file: cannot read '${path}'`);
  }
  let doc: { friendlySignature?: unknown };
  try {
    doc = JSON.parse(text) as { friendlySignature?: unknown };
  } catch {
    throw new UsageError(`--signature-file: '${path}' is not JSON`);
  }
  if (doc.friendlySignature === undefined || doc.friendlySignature === null) return undefined;
  return parseFriendlySignature(JSON.stringify(doc.friendlySignature), 'signature-file.friendlySignature');
}

export const serveModelCommand = defineCommand({
  words: ['serve-model'],
  usage:
    'serve-model --model-uri s3://bucket/prefix/sha256/<hex>|PATH --model-name NAME [--model-format onnx|js|hosted] [--sha256 HEX] [--host 0.0.0.0] [--port 8080] [--grpc-port 8081]',
  summary: "Serve one model (V2 REST and gRPC): the command of Modelport's image on Kubernetes and compose",
  args: [0, 0],
  options: {
    'model-uri': { type: 'string', description: 'The model: s3://.../sha256/<hex>, a path or file:// (STORAGE_URI)' },
    'model-name': { type: 'string', description: 'The name requests use (MODEL_NAME)' },
    'model-format': { type: 'string', description: 'onnx, js or hosted (default: read from the file)' },
    sha256: { type: 'string', description: 'Expected sha256 of a local file' },
    host: { type: 'string', description: 'Address to listen on (default 0.0.0.0)' },
    port: { type: 'string', description: 'HTTP port (default 8080; 0 picks one)' },
    'grpc-port': { type: 'string', description: 'gRPC port (default 8081; 0 turns gRPC off)' },
    'signature-file': {
      type: 'string',
      description: "A bundle's signature file (JSON with friendlySignature) (MODELPORT_SIGNATURE_FILE)",
    },
  },
  async run({ options, io, env }) {
    const signatureFile = options['signature-file'] ?? env['MODELPORT_SIGNATURE_FILE'];
    const friendlySignature = signatureFile === undefined ? undefined : await readBundleSignature(signatureFile);
    const modelUri = options['model-uri'] ?? env['STORAGE_URI'];
    const modelName = options['model-name'] ?? env['MODEL_NAME'];
    if (!modelUri) throw new UsageError('--model-uri (or STORAGE_URI) is required');
    if (!modelName) throw new UsageError('--model-name (or MODEL_NAME) is required');
    const format = options['model-format'];
    if (format !== undefined && !['onnx', 'js', 'hosted'].includes(format)) {
      throw new UsageError(`--model-format takes onnx, js or hosted, not '${format}'`);
    }
    const { serveModel } = await import('../../backends/image/serve-model.ts');
    const workerEnv = Object.fromEntries(
      Object.entries(env).filter(
        // Storage credentials, Modelport's settings and loader variables never reach a model (env-policy.ts).
        (e): e is [string, string] => e[1] !== undefined && reservedEnvReason(e[0]) === undefined,
      ),
    );
    const workDir = join(env['MODELPORT_HOME'] || tmpdir(), `modelport-serve-${process.pid}`);
    const served = await serveModel({
      modelUri,
      modelName,
      format: format as 'onnx' | 'js' | 'hosted' | undefined,
      sha256: options['sha256'],
      host: options['host'] ?? '0.0.0.0',
      port: portOption(options['port'], 8080, 'port'),
      grpcPort: portOption(options['grpc-port'], 8081, 'grpc-port'),
      workDir,
      s3: s3FromEnv(env),
      workerEnv,
      egressAllowHosts: (env['MODELPORT_EGRESS_ALLOW_HOSTS'] ?? '').split(',').filter(Boolean),
      ...(friendlySignature ? { friendlySignature } : {}),
      log: await commandLogger(io, env),
    });
    io.out(`serving ${modelName} at ${served.url}${served.grpcPort ? ` (gRPC port ${served.grpcPort})` : ''}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => void served.close().then(resolve, resolve);
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    await rm(workDir, { recursive: true, force: true });
    return 0;
  },
});

export const fetchModelsCommand = defineCommand({
  words: ['fetch-models'],
  usage: 'fetch-models --manifest models.json --to DIR [--artifacts s3://bucket/prefix|DIR]',
  summary: "Download a compose bundle's models into a folder, verified (its model-download service)",
  args: [0, 0],
  options: {
    manifest: { type: 'string', description: "The bundle's base/models.json" },
    to: { type: 'string', description: 'The models folder (the shared volume)' },
    artifacts: { type: 'string', description: 'Where artifacts live (MODELPORT_ARTIFACTS)' },
  },
  async run({ options, io, format, env }) {
    const manifest = options['manifest'];
    const to = options['to'];
    const artifacts = options['artifacts'] ?? env['MODELPORT_ARTIFACTS'];
    if (!manifest || !to) throw new UsageError('--manifest and --to are required');
    if (!artifacts)
      throw new UsageError('--artifacts (or MODELPORT_ARTIFACTS) is required: s3://bucket/prefix or a folder');
    const { fetchModels } = await import('../../backends/image/fetch-models.ts');
    const fetched = await fetchModels({ manifest, to, artifacts, s3: s3FromEnv(env) });
    if (format === 'json') io.out(`${JSON.stringify({ models: fetched }, null, 2)}\n`);
    else for (const m of fetched) io.out(`${m.fetched ? 'fetched' : 'kept   '} ${m.model}@${m.version} -> ${m.path}\n`);
    return 0;
  },
});

export const gatewayCommand = defineCommand({
  words: ['gateway'],
  usage:
    'gateway --routes routes.json [--host 0.0.0.0] [--port 8080] [--max-body-size 64MiB] [--timeout 60s] [--reload-interval 2s]',
  summary: "Route requests to a compose bundle's serving services (its gateway service, the one published port)",
  args: [0, 0],
  options: {
    routes: { type: 'string', description: "The bundle's base/gateway/routes.json (MODELPORT_ROUTES)" },
    host: { type: 'string', description: 'Address to listen on (default 0.0.0.0)' },
    port: { type: 'string', description: 'HTTP port (default 8080; 0 picks one)' },
    'max-body-size': { type: 'string', description: 'Largest request body (default 64MiB)' },
    timeout: { type: 'string', description: 'How long an upstream may take to answer (default 60s)' },
    'reload-interval': {
      type: 'string',
      description: 'How often routes.json is checked for changes (default 2s; 0 off)',
    },
  },
  async run({ options, io, env }) {
    const routes = options['routes'] ?? env['MODELPORT_ROUTES'];
    if (!routes)
      throw new UsageError("--routes (or MODELPORT_ROUTES) is required: the bundle's base/gateway/routes.json");
    const size = parseSize(options['max-body-size'] ?? '64MiB');
    if (size === undefined || size < 1) throw new UsageError('--max-body-size takes a size such as 64MiB or 1048576');
    const duration = (name: 'timeout' | 'reload-interval', fallback: string, min: number) => {
      const ms = parseDuration(options[name] ?? fallback);
      if (ms === undefined || ms < min) throw new UsageError(`--${name} takes a duration such as 30s or 500ms`);
      return ms;
    };
    const { startGateway } = await import('../../backends/image/gateway/index.ts');
    const gateway = await startGateway({
      routes,
      host: options['host'] ?? '0.0.0.0',
      port: portOption(options['port'], 8080, 'port'),
      maxRequestBytes: size,
      upstreamTimeoutMs: duration('timeout', '60s', 1),
      reloadIntervalMs: duration('reload-interval', '2s', 0),
      log: await commandLogger(io, env),
    });
    io.out(`gateway at ${gateway.url}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => void gateway.close().then(resolve, resolve);
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    return 0;
  },
});
