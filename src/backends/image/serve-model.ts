/**
 * Single-model mode, the command Modelport's image runs in a Kubernetes pod or a compose service: one model, read
 * from `s3://bucket/prefix/sha256/<hex>` (the storageUri the Kubernetes backend renders; downloaded and verified
 * through the S3 artifact store) or a local file (the compose bundle's `/models/<model>/<version>`, checked
 * against `sha256` when given), served under `modelName` by the same gateway pieces as the server (ModelHost,
 * GatewayService, the REST handler for V2 / V1 / Seldon, and gRPC V2). No control plane, no database.
 *
 * ```ts
 * const served = await serveModel({ modelUri: 's3://models/prod/sha256/ab12...', modelName: 'fraud', port: 8080,
 *   grpcPort: 8081, workDir: '/tmp/modelport', s3: { endpoint: 'http://minio:9000' } });
 * // POST http://host:8080/v2/models/fraud/infer
 * await served.close();
 * ```
 */
import { mkdir, open } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { S3Settings } from '../../core/index.ts';
import { ModelportError, notFound } from '../../core/index.ts';
import { createHttpServer, listenOn } from '../../http/index.ts';
import { type Logger, silentLogger } from '../../logging/index.ts';
import { MetricsRegistry } from '../../metrics/index.ts';
import type { ModelVersion } from '../../registry/index.ts';
import { modelInspector } from '../../registry/index.ts';
import {
  createGrpcServer,
  createRestHandler,
  createServingMetrics,
  GatewayService,
  type InferenceTarget,
  ModelHost,
  startGrpcServer,
  stopGrpcServer,
} from '../../serving/index.ts';
import { bindFriendlySignature, type FriendlySignature } from '../../signatures/index.ts';
import {
  type ArtifactStore,
  corruptArtifact,
  FolderArtifactStore,
  hashFile,
  openArtifactStore,
} from '../../store/index.ts';

export const MODEL_FORMATS = ['onnx', 'js', 'hosted'] as const;
export type ModelFormat = (typeof MODEL_FORMATS)[number];

export interface ServeModelOptions {
  /** `s3://bucket/prefix/sha256/<hex>`, a path, or a `file://` URL. */
  modelUri: string;
  /** The name requests use (`/v2/models/<name>/infer`). */
  modelName: string;
  /** Default: sniffed from the file (a gzip archive is `js`, an ONNX protobuf `onnx`, text `hosted`). */
  format?: ModelFormat | undefined;
  /** Expected sha256 of a local file; an s3 URI carries its own. */
  sha256?: string | undefined;
  /** Default 0.0.0.0 (a container's port must be reachable from outside it). */
  host?: string;
  port: number;
  /** 0 disables gRPC. */
  grpcPort: number;
  /** A folder for the downloaded model, the artifact copy and unpacked js models. */
  workDir: string;
  s3?: Partial<S3Settings> | undefined;
  /** The model workers' environment (the container's variables without the storage credentials). */
  workerEnv?: Record<string, string>;
  egressAllowHosts?: readonly string[];
  /** The version's friendly signature (a bundle's signature file), checked against the model's tensors. */
  friendlySignature?: FriendlySignature | undefined;
  maxRequestBytes?: number;
  version?: string;
  log?: Logger;
}

export interface ServedSingleModel {
  url: string;
  grpcPort: number | undefined;
  version: ModelVersion;
  close(): Promise<void>;
}

const S3_ARTIFACT = /^(s3:\/\/.+?)\/sha256\/([0-9a-f]{64})$/;

export async function serveModel(options: ServeModelOptions): Promise<ServedSingleModel> {
  const log = options.log ?? silentLogger();
  await mkdir(options.workDir, { recursive: true });
  const { artifacts, sha256, file } = await locate(options);
  const format = options.format ?? (await sniffFormat(file));
  // The js inspector makes its temp folders inside this one, so it must exist first.
  const inspectDir = join(options.workDir, 'inspect');
  await mkdir(inspectDir, { recursive: true });
  const signature = await modelInspector({ workDir: inspectDir }).inspect(file, format);
  const version: ModelVersion = {
    project: 'default',
    model: options.modelName,
    version: 1,
    format,
    modelType: format,
    sha256,
    size: 0,
    signature,
    ...(options.friendlySignature
      ? { friendlySignature: bindFriendlySignature(options.friendlySignature, signature) }
      : {}),
    description: '',
    tags: {},
    metrics: {},
    lineage: { source: options.modelUri, dataCommit: null, pipelineRun: null },
    aliases: [],
    createdAt: new Date().toISOString(),
  };
  const target: InferenceTarget = { key: `single:${options.modelName}`, version };

  const metricsRegistry = new MetricsRegistry();
  const metrics = createServingMetrics(metricsRegistry);
  const host = new ModelHost({
    artifacts,
    metrics,
    egressAllowHosts: options.egressAllowHosts ?? [],
    log: log.child({ component: 'serving' }),
  });
  const cleanups: (() => Promise<void>)[] = [() => host.close(), () => artifacts.close()];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  };
  try {
    // Loaded before listening, so that readiness means the model answers.
    await host.ensure(target.key, version, { env: options.workerEnv ?? {} });
    const gateway = new GatewayService({
      resolver: {
        resolve: async (name) => {
          if (name !== options.modelName && name !== `${options.modelName}@1`) {
            throw notFound(`model '${name}' (this server serves '${options.modelName}')`, 'model');
          }
          return target;
        },
      },
      host,
      metrics,
      version: options.version ?? 'single-model',
    });
    const maxRequestBytes = options.maxRequestBytes ?? 64 * 1024 * 1024;
    const http = createHttpServer(
      {
        api: () => {
          throw notFound('the control plane (this is a single-model server)');
        },
        openapi: () => ({}),
        inference: createRestHandler(gateway, { maxRequestBytes, log }),
        metrics: (_req, res) => {
          const text = metricsRegistry.render();
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
          res.end(text);
        },
      },
      log,
    );
    const bind = options.host ?? '0.0.0.0';
    await listenOn(http, options.port, bind);
    cleanups.push(async () => {
      gateway.stopAccepting();
      http.closeIdleConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    });
    const address = http.address() as AddressInfo;
    let grpcPort: number | undefined;
    if (options.grpcPort !== 0) {
      const grpc = createGrpcServer(gateway, { maxMessageBytes: maxRequestBytes });
      grpcPort = await startGrpcServer(grpc, bind, options.grpcPort);
      cleanups.push(() => stopGrpcServer(grpc, 5000));
    }
    const shown = bind === '0.0.0.0' ? '127.0.0.1' : bind;
    log.info('serving one model', { model: options.modelName, format, sha256, port: address.port, grpcPort });
    return { url: `http://${shown}:${address.port}`, grpcPort, version, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The model as a verified artifact: the S3 store itself, or a folder store holding a copy of the local file. */
async function locate(options: ServeModelOptions): Promise<{ artifacts: ArtifactStore; sha256: string; file: string }> {
  const s3 = S3_ARTIFACT.exec(options.modelUri);
  if (s3) {
    const [, root = '', sha256 = ''] = s3;
    if (options.sha256 !== undefined && options.sha256 !== sha256) throw corruptArtifact(sha256);
    const artifacts = await openArtifactStore(root, { cacheDir: join(options.workDir, 'cache'), s3: options.s3 });
    return { artifacts, sha256, file: await artifacts.localPath(sha256) };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(options.modelUri) && !options.modelUri.startsWith('file://')) {
    throw new ModelportError(
      'invalid_request',
      '--model-uri: use s3://bucket/prefix/sha256/<hex> (as the Kubernetes backend renders), a path or a file:// URL',
      { field: 'modelUri' },
    );
  }
  const path = options.modelUri.startsWith('file://') ? fileURLToPath(options.modelUri) : options.modelUri;
  const sha256 = await hashFile(path);
  if (options.sha256 !== undefined && options.sha256 !== sha256) throw corruptArtifact(options.sha256);
  const artifacts = new FolderArtifactStore(join(options.workDir, 'artifacts'));
  await artifacts.putFile(path);
  return { artifacts, sha256, file: await artifacts.localPath(sha256) };
}

/** A js model is a gzip archive, an ONNX model a protobuf starting with its ir_version field; the rest is hosted. */
export async function sniffFormat(file: string): Promise<ModelFormat> {
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(2), 0, 2, 0);
    if (bytesRead >= 2 && buffer[0] === 0x1f && buffer[1] === 0x8b) return 'js';
    if (bytesRead >= 1 && buffer[0] === 0x08) return 'onnx';
    return 'hosted';
  } finally {
    await handle.close();
  }
}
