/**
 * The composition root: builds every part from the frozen config, explicitly and in dependency order, and tears
 * them down in reverse. Nothing registers itself on import; a missing part fails here, at start-up.
 *
 * `buildApp` builds everything without listening: its `server` answers requests in-process (`app.request(...)`,
 * src/http/inject.ts), which is how control-API tests run. `listen` opens the HTTP and gRPC ports, restores the
 * stored deployments and jobs and seeds the example; `startServer` is both.
 */
import { once } from 'node:events';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { apiRoutes, buildOpenApiDocument, createRouter } from '../api/index.ts';
import { type AuditEvent, AuditLog } from '../audit/index.ts';
import {
  type Authorizer,
  AuthStore,
  ensureServerAdmin,
  type InferenceGuard,
  inferenceGuard,
  LocalAuthorizer,
  loadTokenKey,
  type Principal,
  SessionStore,
  TokenAuthorizer,
  TokenHasher,
} from '../auth/index.ts';
import {
  ComposeBackend,
  DeploymentResolver,
  exportDeployment,
  KubernetesBackend,
  LocalBackend,
  ManifestValidator,
  openKubeApi,
  renderContextOf,
} from '../backends/index.ts';
import { createBrowserGuard, createSessionHandler, OidcLogin } from '../console-auth/index.ts';
import { ModelportError, notFound, parseModelRef, type ServerConfig } from '../core/index.ts';
import { appendEvent, DataService, ProfileWorker } from '../data/index.ts';
import { DeploymentService } from '../deployments/index.ts';
import { EgressGuard } from '../egress/index.ts';
import { BlobGuard, collectGarbage } from '../gc/index.ts';
import {
  capConnections,
  createHttpServer,
  type InjectInit,
  inject,
  listenOn,
  type PathHandler,
} from '../http/index.ts';
import { JobService, S3InputSource, s3Connection } from '../jobs/index.ts';
import {
  type ScanResult as LineageScanResult,
  LineageService,
  type LineageSources,
  OpenLineageEmitter,
  OpenLineageEvents,
  OpenLineageFeed,
  OpenLineageValidator,
} from '../lineage/index.ts';
import type { Logger } from '../logging/index.ts';
import { MetricsRegistry } from '../metrics/index.ts';
import { ModelTypeCatalogue } from '../modeltypes/index.ts';
import { DriftMonitor } from '../monitoring/index.ts';
import { DeploymentMetricsSampler, registerQueueGauges } from '../observability/index.ts';
import { FeedbackService, PayloadLog } from '../payloads/index.ts';
import {
  BuiltinSteps,
  evaluateInChild,
  KubernetesExecutor,
  LocalExecutor,
  PipelineService,
  RunEngine,
  S3StepStaging,
} from '../pipelines/index.ts';
import { ModelRegistry, modelInspector } from '../registry/index.ts';
import { renderReportHtml } from '../reports/index.ts';
import { type Scan, ScanService, type ScanService as ScanServiceType, type VersionInfo } from '../scans/index.ts';
import { InProcessScorer } from '../scoring/index.ts';
import { keyRotator, loadSecretKey, SecretStore, secretKeyInUse } from '../secrets/index.ts';
import {
  createGrpcServer,
  createRestHandler,
  createServingMetrics,
  GatewayService,
  ModelHost,
  RegistryResolver,
  startGrpcServer,
  stopGrpcServer,
} from '../serving/index.ts';
import { scoringParts } from '../signatures/index.ts';
import { StoreSink } from '../sinks/index.ts';
import { openArtifactStore, openMetadataStore, parseS3Url } from '../store/index.ts';
import { startTracing, type Tracing } from '../tracing/index.ts';
import { createConsoleHandler } from './console-handler.ts';
import { seedExample } from './example.ts';
import { createPipelineHooksHandler } from './pipeline-hooks.ts';

export interface App {
  /** The HTTP server with every route, not listening. */
  server: Server;
  /** Answers one request in-process, without a port (Hono's `app.request`). */
  request(path: string, init?: InjectInit): Promise<Response>;
  registry: ModelRegistry;
  gateway: GatewayService;
  host: ModelHost;
  deployments: DeploymentService;
  jobs: JobService;
  pipelines: PipelineService;
  /** Use cases and their scans (the queue starts in `restore`). */
  scans: ScanServiceType;
  /** Runs pipelines: consumes trigger events, claims runs, executes steps (started by `restore`). */
  engine: RunEngine;
  metrics: MetricsRegistry;
  data: DataService;
  /** The background profiler of tabular data files (`idle()` waits for pending profiles). */
  profiles: ProfileWorker;
  /** The payload log (`flush()` waits until every logged call is in its sinks). */
  payloads: PayloadLog;
  /** Where the stores are, for the start-up log. */
  locations: { database: string; artifacts: string };
  /** Sets the URLs deployments report (once the listeners are open). */
  setPublicUrls(urls: { rest: string; grpc?: string }): void;
  /** Brings stored deployments and jobs back and seeds the example (when configured); call once. */
  restore(): Promise<{ model: string; version: number } | undefined>;
  /** Closes everything built, in reverse order. */
  close(): Promise<void>;
  /** Runs `cleanup` first on close (listeners are closed before the parts they use). */
  onClose(cleanup: () => Promise<void>): void;
  /** Records an inference call refused for its credentials in the audit log (the gRPC listener's hook). */
  auditDenied(method: string, path: string, error: ModelportError): void;
  /** Whether callers need tokens, and the server admin's token when this start created it (print it once). */
  auth: { enabled: boolean; insecure: boolean; adminToken: string | undefined; adminTokenFile: string };
  /** Users, groups, tokens and memberships. */
  users: AuthStore;
  /** The data plane's check (REST inference uses it already; gRPC takes it in `listen`). */
  inferenceGuard: InferenceGuard;
}

export interface RunningServer {
  /** Base URL of the HTTP listener (control plane and REST inference). */
  url: string;
  /** Port of the gRPC listener, when it runs. */
  grpcPort: number | undefined;
  registry: ModelRegistry;
  gateway: GatewayService;
  host: ModelHost;
  deployments: DeploymentService;
  jobs: JobService;
  pipelines: PipelineService;
  scans: ScanServiceType;
  /** Runs pipelines: consumes trigger events, claims runs, executes steps (`idle()` waits for them). */
  engine: RunEngine;
  metrics: MetricsRegistry;
  data: DataService;
  profiles: ProfileWorker;
  payloads: PayloadLog;
  /** What the example seeding did on this start, for the start-up banner. */
  example: { model: string; version: number } | undefined;
  /** Whether callers need tokens, and the server admin's token when this start created it (print it once). */
  auth: { enabled: boolean; insecure: boolean; adminToken: string | undefined; adminTokenFile: string };
  users: AuthStore;
  /** Stops accepting, lets in-flight requests finish (bounded by the shutdown timeout), closes the stores. */
  close(): Promise<void>;
}

export interface StartOptions {
  log: Logger;
  version: string;
  /** Folder holding examples/ (the repository root); the example is skipped when its model file is absent. */
  examplesDir: string;
  /** Start gRPC even when the configured port is 0 (tests: an ephemeral port). */
  grpc?: boolean;
  /** Batch scoring jobs running at once (default 1). */
  jobConcurrency?: number;
  /** Environment pipeline step commands start from (default: PATH with this Node's folder). */
  stepEnv?: Record<string, string>;
  /** How often the pipeline engine polls its queue (default 250 ms). */
  pipelinePollMs?: number;
}

/** Builds and starts a server: `buildApp`, then `listen`. */
export async function startServer(config: ServerConfig, options: StartOptions): Promise<RunningServer> {
  const app = await buildApp(config, options);
  try {
    return await listen(app, config, options);
  } catch (error) {
    await app.close();
    throw error;
  }
}

/** Builds every part from the config; nothing listens and nothing stored is restored yet. */
export async function buildApp(config: ServerConfig, options: StartOptions): Promise<App> {
  const { log } = options;
  const cleanups: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((err: unknown) => log.error('shutdown step failed', { err }));
    }
  };

  try {
    await mkdir(config.home, { recursive: true });
    const uploadDir = join(config.home, 'tmp', 'uploads');
    await mkdir(uploadDir, { recursive: true });
    // What a killed server left: spooled uploads here, and staged puts in the artifact store (below).
    const leftUploads = await readdir(uploadDir);
    await Promise.all(leftUploads.map((name) => rm(join(uploadDir, name), { recursive: true, force: true })));

    const metadata = await openMetadataStore({ url: config.databaseUrl, home: config.home });
    cleanups.push(() => metadata.close());
    const artifacts = await openArtifactStore(config.artifacts, {
      cacheDir: join(config.home, 'cache', 'artifacts'),
      s3: config.s3,
    });
    cleanups.push(() => artifacts.close());
    const leftStaged = await artifacts.sweepTemporary();
    if (leftUploads.length + leftStaged > 0) {
      log.info('removed temporary files of interrupted uploads', { uploads: leftUploads.length, staged: leftStaged });
    }
    // Data repositories, and the claims that keep garbage collection from racing writers (models' too).
    const guard = new BlobGuard(metadata);
    const data = new DataService({ store: metadata, artifacts, guard });
    const profiles = new ProfileWorker({
      db: metadata.db,
      artifacts,
      workDir: join(config.home, 'tmp', 'profiles'),
      log: log.child({ component: 'profiles' }),
    });
    data.setProfiles(profiles);
    cleanups.push(() => profiles.close());

    // Every outbound call (hosted runtimes, https:// imports, webhooks) goes through this guard.
    const egress = new EgressGuard({ allowHosts: config.egressAllowHosts });
    cleanups.push(() => egress.close());
    // Traces, when an OTLP endpoint is set: the SDK loads only then. The endpoint passes the egress guard once.
    let tracing: Tracing | undefined;
    if (config.tracing) {
      await egress.check(config.tracing.endpoint).catch((error: unknown) => {
        throw new ModelportError(
          'invalid_config',
          `--otlp-endpoint / MODELPORT_OTLP_ENDPOINT: ${(error as Error).message} (a private or loopback collector must be listed in --egress-allow-hosts)`,
          { field: 'otlpEndpoint' },
        );
      });
      const started = await startTracing({ ...config.tracing, serviceName: 'modelport' });
      tracing = started;
      cleanups.push(() => started.shutdown());
      log.info('tracing on', { endpoint: config.tracing.endpoint, sampleRatio: config.tracing.sampleRatio });
    }
    // Model imports from URLs: the same rules, with the upload size limit and time for large files.
    const importGuard = new EgressGuard({
      allowHosts: config.egressAllowHosts,
      maxResponseBytes: config.maxUploadBytes,
      timeoutMs: 30 * 60_000,
    });
    cleanups.push(() => importGuard.close());
    const modelTypes = await ModelTypeCatalogue.open(join(config.home, 'modeltypes.yaml'));
    const registry = new ModelRegistry({
      store: metadata,
      artifacts,
      guard,
      lineage: { pin: (project, value, field) => data.pinLineage(project, value, field) },
      inspector: modelInspector({ workDir: uploadDir, timeoutMs: 60_000, egress }),
      modelTypes,
      // model.version and model.alias events start pipelines triggered by models.
      events: async (trx, event, now) => {
        await appendEvent(trx, metadata.dialect, event, now);
      },
    });

    const secretKey = await loadSecretKey({
      key: config.secretKey,
      file: config.secretKeyFile,
      inUse: (id) => secretKeyInUse(metadata.db, id),
    });
    if (secretKey.created) log.info('created the secrets key file', { file: secretKey.file });
    const secrets = new SecretStore({ store: metadata, key: secretKey.key });

    // Identity: tokens are verified with the token key (HMAC); with auth off the embedded single-user mode stays.
    const tokenKey = await loadTokenKey({ key: config.auth.tokenKey, file: config.auth.tokenKeyFile });
    const hasher = new TokenHasher(tokenKey.key);
    const users = new AuthStore({ store: metadata, hasher });
    // Console sessions: a cookie for browsers, checked with a CSRF header on every state-changing request.
    const sessions = new SessionStore({ store: metadata, hasher, users });
    const tokenAuthorizer = config.auth.enabled
      ? new TokenAuthorizer({ store: users, sessions, onError: (message, err) => log.error(message, { err }) })
      : undefined;
    const authorizer: Authorizer = tokenAuthorizer ?? new LocalAuthorizer();
    let adminToken: string | undefined;
    if (config.auth.enabled) {
      const boot = await ensureServerAdmin(users, config.auth.adminTokenFile);
      adminToken = boot.token;
      if (boot.token) log.info('created the server admin user "admin"; its token is in the file', { file: boot.file });
    } else if (config.auth.insecure) {
      log.warn(
        'auth is OFF on a non-loopback address (--insecure-no-auth): anyone who reaches the port can do everything',
        {
          host: config.host,
        },
      );
    }

    const metricsRegistry = new MetricsRegistry();
    const servingMetrics = createServingMetrics(metricsRegistry);
    const audit = new AuditLog({ store: metadata, metrics: metricsRegistry, log: log.child({ component: 'audit' }) });
    // Runs before the store closes (cleanups run in reverse): rows still queued are written.
    cleanups.push(() => audit.flush());
    // The payload log: the built-in store writes Parquet files into the artifact store; CloudEvents go out through
    // the egress guard. Closed after the listeners and workers (cleanups run in reverse), before the stores.
    const payloadStore = new StoreSink({
      db: metadata.db,
      artifacts,
      workDir: join(config.home, 'tmp', 'payloads'),
      readable: [
        ...(config.artifacts.startsWith('s3://') ? [] : [artifacts.location]),
        join(config.home, 'cache', 'artifacts'),
      ],
      claim: (sha256s) => guard.protect(sha256s),
      log: log.child({ component: 'payloads' }),
    });
    const payloads = new PayloadLog({
      store: payloadStore,
      fetch: (url, init) => egress.fetch(url, init),
      checkUrl: async (url) => {
        await egress.check(url);
      },
      metrics: metricsRegistry,
      caller: (headers) => {
        try {
          const principal = authorizer.identify({ headers: headers ?? {} });
          return principal instanceof Promise ? principal.then(callerName, () => null) : callerName(principal);
        } catch {
          return null;
        }
      },
      log: log.child({ component: 'payloads' }),
    });
    cleanups.push(() => payloads.close());
    const feedback = new FeedbackService({ db: metadata.db, store: payloadStore });
    const modelHost = new ModelHost({
      artifacts,
      metrics: servingMetrics,
      egressAllowHosts: config.egressAllowHosts,
      log: log.child({ component: 'serving' }),
      ...(tracing ? { tracing } : {}),
    });
    cleanups.push(() => modelHost.close());
    registerQueueGauges(metricsRegistry, modelHost);
    const secretValues = {
      resolve: async (project: string, names: string[]) =>
        Object.fromEntries([...(await secrets.resolve(project, names))].map(([name, value]) => [name, value.reveal()])),
    };
    const local = new LocalBackend({
      host: modelHost,
      registry,
      metrics: metricsRegistry,
      secrets: secretValues,
      log: log.child({ component: 'local-backend' }),
      callLogs: (ref, logging) => payloads.callLog(ref, logging),
    });
    // Kubernetes and compose render from the model types' templates; both always exist for exports, Kubernetes
    // applies only with a kubeconfig or in a pod (the SDK loads on the first apply).
    const validator = new ManifestValidator();
    const sources = { registry, catalogue: modelTypes };
    const s3Artifacts = config.artifacts.startsWith('s3://') ? config.artifacts.replace(/\/+$/, '') : undefined;
    const kubernetes = new KubernetesBackend({
      api: () => openKubeApi({ kubeconfig: config.kubernetes.kubeconfig, context: config.kubernetes.context }),
      sources,
      validator,
      format: config.kubernetes.format,
      namespace: config.kubernetes.namespace,
      storageUri: s3Artifacts ? (sha) => `${s3Artifacts}/sha256/${sha}` : undefined,
      s3: s3Artifacts ? config.s3 : undefined,
      imagePullSecrets: config.kubernetes.imagePullSecrets,
      modelportImage: config.modelportImage,
      secrets: secretValues,
      readyTimeoutMs: config.kubernetes.readyTimeoutMs,
      log: log.child({ component: 'kubernetes' }),
    });
    const compose = new ComposeBackend({
      bundleDir: config.bundleDir,
      sources,
      validator,
      artifacts: config.artifacts,
      s3Endpoint: config.s3.endpoint,
      modelportImage: config.modelportImage,
    });
    cleanups.push(() => local.close());
    const gateway = new GatewayService({
      resolver: new DeploymentResolver(local, new RegistryResolver(registry)),
      host: modelHost,
      metrics: servingMetrics,
      version: options.version,
      ...(tracing ? { tracing } : {}),
    });

    // Webhooks (pipelines' notify steps, drift alerts) go out through the egress guard.
    const postJson = async (url: string, body: string, signal?: AbortSignal) => {
      const response = await egress.fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        ...(signal ? { signal } : {}),
      });
      await response.arrayBuffer().catch(() => undefined);
      return { status: response.status };
    };
    // Built after the deployments (it reads them); the DriftDetected condition is asked for late.
    let drift: DriftMonitor | undefined;
    let publicUrls: { rest: string; grpc?: string } = { rest: '' };
    /** Requests and errors the gateway served for a model version so far. */
    const servedBy = (model: string, version: number) => {
      let requests = 0;
      let errors = 0;
      for (const { labels, value } of servingMetrics.requests.entries()) {
        if (labels['model'] !== model || labels['version'] !== String(version)) continue;
        requests += value;
        if (labels['outcome'] !== 'ok') errors += value;
      }
      return { requests, errors };
    };
    // OpenLineage: runs, steps and rollouts report to the feed (set below, once the pipelines exist) when configured.
    let openLineageFeed: OpenLineageFeed | undefined;
    const deployments = new DeploymentService({
      onRollout: (event) => openLineageFeed?.rollout(event),
      store: metadata,
      registry,
      backends: config.kubernetes.enabled ? { local, kubernetes, compose } : { local, compose },
      routes: local,
      urls: () => publicUrls,
      validate: (_project, spec) => payloads.check(spec.logging, spec.backend),
      observedConditions: (project, name) => {
        const condition = drift?.condition(project, name);
        return condition ? [condition] : [];
      },
      log: log.child({ component: 'deployments' }),
      // A promotionPolicy reads the candidate's latest scan and what it served (scans is built below).
      promotionContext: async (project, candidate) => {
        const served = servedBy(candidate.model, candidate.version);
        return {
          scans: (await scans.latestSummary(project, candidate.model, candidate.version)) ?? {},
          canary: { ...served, error_rate: served.requests === 0 ? 0 : served.errors / served.requests },
        };
      },
    });
    registry.setUsage(deployments);
    // Batch scoring jobs run in child processes: ONNX Runtime never runs on this event loop.
    const jobs = new JobService({
      store: metadata,
      artifacts,
      registry,
      workDir: join(config.home, 'tmp', 'jobs'),
      inputs: new S3InputSource(s3Connection(config.s3)),
      concurrency: options.jobConcurrency ?? config.jobConcurrency,
      log: log.child({ component: 'jobs' }),
    });
    cleanups.push(() => jobs.close());

    // Pipelines: steps' commands run as child processes here (the local executor).
    const builtins = new BuiltinSteps({
      registerVersion: (project, name, input) => registry.registerVersion(project, name, input),
      getVersion: (project, ref) => registry.getVersion(project, parseModelRef(ref, 'model')),
      deployments,
      openScorer: (path) => InProcessScorer.open(path),
      // Scoring a held-out set is CPU work: in a child process, never on this event loop.
      evaluate: (job, options) => evaluateInChild(job, options),
      servedBy,
      scans: {
        latest: async (project, model, version) => ({ ...(await scans.latestSummary(project, model, version)) }),
        fresh: async (project, usecase, candidate, o) => ({
          ...(await scans.scanCandidate(project, usecase, candidate, {
            kinds: o.kinds,
            by: 'pipeline',
            timeoutMs: 60 * 60_000,
            signal: o.signal,
          })),
        }),
      },
      post: postJson,
      profiles: async (project, repo, commit) => {
        const { entries } = await data.tree(project, repo, commit, '', true);
        const out = [];
        for (const entry of entries) {
          if (entry.type !== 'file') continue;
          // Files that are not tabular have no profile (refused as invalid_request).
          const profile = await data.profile(project, repo, commit, entry.path).catch(() => undefined);
          if (profile) out.push(profile);
        }
        return out;
      },
    });
    const engine = new RunEngine({
      store: metadata,
      artifacts,
      data,
      executors: {
        local: new LocalExecutor(),
        kubernetes: config.kubernetes.enabled
          ? new KubernetesExecutor({
              api: () => openKubeApi({ kubeconfig: config.kubernetes.kubeconfig, context: config.kubernetes.context }),
              validate: (object) => validator.validateKubernetes(object),
              namespace: config.kubernetes.namespace,
              imagePullSecrets: config.kubernetes.imagePullSecrets,
              // Steps' folders travel through the artifact bucket (presigned URLs) when it is S3.
              staging: s3Artifacts
                ? new S3StepStaging({
                    ...s3Connection(config.s3),
                    bucket: parseS3Url(s3Artifacts).bucket,
                    prefix: `${parseS3Url(s3Artifacts).prefix}/pipeline-staging`,
                  })
                : undefined,
            })
          : undefined,
      },
      builtins,
      secrets: secretValues,
      workDir: join(config.home, 'tmp', 'runs'),
      baseEnv: options.stepEnv ?? { PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin` },
      pollMs: options.pipelinePollMs,
      library: fileURLToPath(new URL('../../', import.meta.url)),
      log: (message, fields) => log.info(message, fields),
      onLifecycle: (event) => openLineageFeed?.runLifecycle(event),
    });
    data.onCommit(() => engine.kick());
    const pipelines = new PipelineService({
      store: metadata,
      artifacts,
      engine,
      repoExists: async (project, repo) => {
        try {
          await data.getRepo(project, repo);
          return true;
        } catch (error) {
          if ((error as { code?: string }).code === 'not_found') return false;
          throw error;
        }
      },
      secretNames: async (project) => (await secrets.list(project)).map((s) => s.name),
      secretValue: async (project, name) => {
        try {
          return (await secretValues.resolve(project, [name]))[name];
        } catch (error) {
          if ((error as { code?: string }).code === 'not_found') return undefined;
          throw error;
        }
      },
      executors: config.kubernetes.enabled ? ['local', 'kubernetes'] : ['local'],
    });
    cleanups.push(() => engine.close());

    // Scans: datasets from the data repositories (or uploads), models in-process, hosted ones and deployments
    // through the gateway.
    const versionInfo = (v: Awaited<ReturnType<ModelRegistry['getVersion']>>): VersionInfo => {
      const friendly = scoringParts(v.friendlySignature);
      return {
        model: v.model,
        version: v.version,
        format: v.format,
        sha256: v.sha256,
        signature: {
          inputs: v.signature.inputs,
          outputs: v.signature.outputs,
          ...(friendly.featureNames ? { featureNames: friendly.featureNames } : {}),
          ...(friendly.labels ? { labels: friendly.labels } : {}),
        },
        dataCommit: v.lineage.dataCommit,
      };
    };
    const unknownModel = (field: string, message: string) =>
      new ModelportError('invalid_request', `${field}: ${message}`, { field });
    const scans = new ScanService({
      store: metadata,
      datasets: {
        openFile: async (project, repo, ref, path) => {
          const opened = await data.openFile(project, repo, ref, path);
          return { commit: opened.commit.id, sha256: opened.file.sha256, stream: opened.stream };
        },
        openUpload: async (sha256) => {
          if (!(await artifacts.has(sha256))) throw notFound(`upload ${sha256.slice(0, 12)}`, 'dataset.upload');
          return artifacts.open(sha256);
        },
        profile: async (project, repo, commit, path) => {
          const p = await data.profile(project, repo, commit, path);
          return p.state === 'ready' ? p.profile : null;
        },
        files: async (project, repo, commit) =>
          (await data.tree(project, repo, commit, '', true)).entries
            .filter((e) => e.type === 'file')
            .map((e) => e.path),
      },
      models: {
        version: async (project, ref, field) => {
          try {
            return versionInfo(await registry.getVersion(project, parseModelRef(ref, field)));
          } catch (error) {
            if (error instanceof ModelportError && error.code === 'not_found') {
              throw unknownModel(field, `unknown model '${ref}' in project '${project}' (${error.message})`);
            }
            throw error;
          }
        },
        modelFile: (sha256) => artifacts.localPath(sha256),
        openScorer: (path, format) => InProcessScorer.open(path, undefined, format),
        gateway: {
          deployment: async (project, name, field) => {
            if (project !== 'default') {
              throw unknownModel(
                field,
                `deployments are scanned through this server's gateway, which serves project 'default'; '${project}' has no gateway here`,
              );
            }
            let d: Awaited<ReturnType<DeploymentService['get']>>;
            try {
              d = await deployments.get(project, name);
            } catch (error) {
              if (error instanceof ModelportError && error.code === 'not_found') {
                throw unknownModel(
                  field,
                  `unknown deployment '${name}' in project '${project}' (list them with deployments list)`,
                );
              }
              throw error;
            }
            const primary = [...d.status.targets].sort((a, b) => b.weight - a.weight)[0];
            const ref = primary
              ? { name: primary.model, version: primary.version }
              : d.spec.traffic[0]
                ? parseModelRef(d.spec.traffic[0].model, field)
                : undefined;
            if (!ref) throw unknownModel(field, `deployment '${name}' has no model to call`);
            return versionInfo(await registry.getVersion(project, ref));
          },
          infer: async (_project, name, input, outputs, options) =>
            (
              await gateway.infer(
                name,
                undefined,
                { inputs: [input], outputs: outputs.map((o) => ({ name: o })) },
                { protocol: 'v2-json', signal: options.signal, deadline: options.deadline },
              )
            ).outputs,
        },
      },
      defaults: config.scanConfig,
      workDir: join(config.home, 'tmp', 'scans'),
      log: log.child({ component: 'scans' }),
    });
    cleanups.push(() => scans.close());
    // Lineage reads the registry, deployments, runs and data repositories; it stores nothing of its own.
    const lineageSources: LineageSources = {
      models: {
        getVersion: (project, ref) => registry.getVersion(project, parseModelRef(ref, 'of')),
        versionsFrom: (project, from) => registry.versionsFrom(project, from),
      },
      deployments,
      runs: pipelines,
      data,
      predictions: {
        get: (project, requestId) => payloads.get(project, requestId),
        count: (project, deployment) => payloads.armCounts(project, deployment),
      },
      scans: {
        ofVersion: async (project, model, version) =>
          (await scans.scansOf(project, { model, version })).map((scan) => {
            const target = scan.models.find((m) => m.model === model && m.version === version)?.target;
            return scanNode(scan, target ? (scan.summary?.[target]?.trust ?? null) : null);
          }),
        ofCommit: async (project, _repo, commit) =>
          (await scans.scansOf(project, { dataCommit: commit })).map((scan) => scanNode(scan, null)),
      },
    };
    const lineage = new LineageService(lineageSources);
    const openLineageEvents = new OpenLineageEvents({
      namespace: config.openLineage.namespace,
      producer: `urn:modelport:server:${options.version}`,
    });
    if (config.openLineage.url !== undefined) {
      const emitter = new OpenLineageEmitter({
        url: config.openLineage.url,
        validator: new OpenLineageValidator(),
        post: async (url, body, signal) => {
          const response = await egress.fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
            signal,
          });
          await response.arrayBuffer().catch(() => undefined);
          return { status: response.status };
        },
        counter: metricsRegistry.counter(
          'modelport_openlineage_events_total',
          'OpenLineage events by outcome: sent; dropped (queue full, shutting down), failed (refused, unreachable), invalid (failed the schema) are lost',
          ['outcome'],
        ),
        log: (message, fields) => log.warn(message, { component: 'openlineage', ...fields }),
      });
      openLineageFeed = new OpenLineageFeed(lineageSources, openLineageEvents, emitter);
      cleanups.push(() => emitter.close());
    }
    // Samples the gateway's counters per deployment for the console's charts.
    const sampler = new DeploymentMetricsSampler({
      metrics: servingMetrics,
      deployments: async () =>
        (await Promise.all((await registry.listProjects()).map((p) => deployments.list(p.name)))).flat(),
      log: log.child({ component: 'metrics-sampler' }),
    });
    sampler.start();
    cleanups.push(() => sampler.close());
    // Live drift: the payload log's inputs against the training commit's profile, on each deployment's schedule.
    const driftMonitor = new DriftMonitor({
      db: metadata.db,
      projects: async () => (await registry.listProjects()).map((p) => p.name),
      deployments,
      registry: { getVersion: (project, ref) => registry.getVersion(project, ref) },
      data,
      payloads,
      post: postJson,
      secrets: async (project, names) => secretValues.resolve(project, names),
      metrics: metricsRegistry,
      log: log.child({ component: 'drift' }),
    });
    drift = driftMonitor;
    cleanups.push(() => driftMonitor.close());

    const routes = apiRoutes({
      system: { version: options.version, database: metadata.dialect, artifacts: artifacts.location },
      models: {
        registry,
        uploadDir,
        maxUploadBytes: config.maxUploadBytes,
        imports: { guard: importGuard, s3: new S3InputSource(s3Connection(config.s3)) },
        buildContext: (version, options) =>
          renderContextOf(version, modelTypes, { ...options, modelportImage: config.modelportImage }),
      },
      deployments: {
        deployments,
        export: (project, name, format) =>
          exportDeployment(deployments, project, name, format, { kubernetes, compose }),
        purgePayloads: async (project, name) =>
          (await payloads.purge(project, name)) + (await feedback.purge(project, name)),
      },
      secrets: { secrets, rotateKey: keyRotator(secrets, secretKey) },
      modelTypes: { catalogue: modelTypes },
      jobs: { jobs, artifacts, uploadDir, maxUploadBytes: config.maxUploadBytes },
      deploymentMetrics: { deployments, sampler },
      auth: { users, registry, invalidate: (tokenId) => tokenAuthorizer?.invalidate(tokenId) },
      audit: { audit },
      pipelines: { pipelines, artifacts, uploadDir },
      lineage: { lineage, events: openLineageEvents },
      payloads: { payloads, feedback, deployments },
      scans: { scans, artifacts, uploadDir, maxUploadBytes: config.maxUploadBytes, renderHtml: renderReportHtml },
      drift: { deployments, drift: driftMonitor },
      data: {
        data,
        maxUploadBytes: config.maxUploadBytes,
        gc: (gcOptions) =>
          collectGarbage({ db: metadata.db, artifacts, guard, treeFiles: (tree) => data.treeFiles(tree) }, gcOptions),
      },
    });
    const openapi = buildOpenApiDocument(routes, options.version);
    const api = createRouter(routes, {
      authorizer,
      maxJsonBytes: 1024 * 1024,
      log: log.child({ component: 'api' }),
      audit,
    });

    // Inference names resolve in the default project; a deployment with `spec.auth: open` needs no token.
    const inferenceCheck = inferenceGuard(authorizer, {
      project: 'default',
      isOpen: (deployment) => local.route('default', deployment)?.open === true,
    });
    const inference = createRestHandler(gateway, {
      authorize: inferenceCheck,
      maxRequestBytes: config.maxRequestBytes,
      log: log.child({ component: 'inference' }),
      tracing: tracing !== undefined,
      onDenied: (req, error, path) => void audit.record(inferenceDenial(req.method ?? 'GET', path, error)),
    });
    const oidcSettings = config.console.oidc;
    const oidc =
      oidcSettings === undefined
        ? undefined
        : new OidcLogin(
            oidcSettings,
            oidcSettings.clientSecret ??
              (oidcSettings.clientSecretFile === undefined
                ? undefined
                : await readClientSecret(oidcSettings.clientSecretFile)),
          );
    const session = createSessionHandler({
      authorizer,
      users,
      sessions,
      oidc,
      sessionTtlMs: config.console.sessionTtlMs,
      secureCookies: oidcSettings?.redirectUrl.startsWith('https:') === true,
      log: (message, fields) => log.info(message, fields),
    });
    const metricsHandler: PathHandler = (_req, res) => {
      const text = metricsRegistry.render();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const http = createHttpServer(
      {
        api,
        openapi: () => openapi,
        inference,
        metrics: metricsHandler,
        console: createConsoleHandler({ root: fileURLToPath(new URL('../../ui/dist/', import.meta.url)) }),
        protect: async (req) => authorizer.authorize(await authorizer.authenticate(req), 'read'),
        guard: createBrowserGuard({ allowedHosts: config.console.allowedHosts }),
        session,
        hooks: createPipelineHooksHandler(pipelines, log.child({ component: 'pipeline-hooks' })),
      },
      log.child({ component: 'http' }),
      config.httpTimeouts,
    );
    // A bound on open connections: under a flood, sockets past it get a canned 503 rather than slowing everyone.
    capConnections(http, config.maxConnections, () => servingMetrics.connectionsRefused.inc({}));
    cleanups.push(async () => {
      // A server that never listened has nothing to close.
      if (!http.listening) return;
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      // Keep-alive connections go as soon as their last response is written; stragglers after the drain timeout.
      const sweep = setInterval(() => http.closeIdleConnections(), 50);
      const timer = setTimeout(() => http.closeAllConnections(), config.shutdownTimeoutMs);
      await closed;
      clearInterval(sweep);
      clearTimeout(timer);
    });
    // Pushed last so it runs first: readiness flips before listeners close and workers drain.
    const stopAccepting = async () => gateway.stopAccepting();

    return {
      server: http,
      request: (path, init) => inject(http, path, init),
      registry,
      gateway,
      host: modelHost,
      deployments,
      jobs,
      pipelines,
      scans,
      engine,
      metrics: metricsRegistry,
      data,
      profiles,
      payloads,
      auth: {
        enabled: config.auth.enabled,
        insecure: config.auth.insecure,
        adminToken,
        adminTokenFile: config.auth.adminTokenFile,
      },
      users,
      inferenceGuard: inferenceCheck,
      locations: { database: metadata.location, artifacts: artifacts.location },
      setPublicUrls: (urls) => {
        publicUrls = urls;
      },
      restore: async () => {
        await deployments.restore();
        cleanups.push(() => deployments.settle());
        await jobs.restore();
        // Pipeline runs a stopped server left; then the engine polls its queue and arms the schedules.
        await engine.start();
        // Scans a stopped server left, then the queue.
        await scans.restore();
        // Profiles a previous run did not finish.
        profiles.kick();
        // Drift schedules of the deployments that monitor drift, and their last verdicts.
        await driftMonitor.start();
        return config.example ? await seedExample(registry, deployments, options.examplesDir, log) : undefined;
      },
      onClose: (cleanup) => {
        cleanups.push(cleanup);
      },
      auditDenied: (method, path, error) => void audit.record(inferenceDenial(method, path, error)),
      close: async () => {
        await stopAccepting();
        await closeAll();
      },
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** Opens the HTTP (and gRPC) listeners of a built app, restores what was stored, and seeds the example. */
export async function listen(app: App, config: ServerConfig, options: StartOptions): Promise<RunningServer> {
  const { log } = options;
  const http = app.server;
  await listenOn(http, config.port, config.host);
  const address = http.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;

  let grpcPort: number | undefined;
  if (config.grpcPort !== 0 || options.grpc === true) {
    const grpc = createGrpcServer(app.gateway, {
      authorize: app.inferenceGuard,
      maxMessageBytes: config.maxRequestBytes,
      log: log.child({ component: 'grpc' }),
      onDenied: (error, method) => app.auditDenied('POST', `grpc:${method}`, error),
    });
    grpcPort = await startGrpcServer(grpc, config.host, config.grpcPort);
    app.onClose(() => stopGrpcServer(grpc, config.shutdownTimeoutMs));
  }

  app.setPublicUrls({ rest: url, ...(grpcPort ? { grpc: `${config.host}:${grpcPort}` } : {}) });
  const example = await app.restore();

  log.info('server started', { url, ...app.locations });
  return {
    url,
    grpcPort,
    registry: app.registry,
    gateway: app.gateway,
    host: app.host,
    deployments: app.deployments,
    jobs: app.jobs,
    pipelines: app.pipelines,
    scans: app.scans,
    engine: app.engine,
    metrics: app.metrics,
    data: app.data,
    profiles: app.profiles,
    payloads: app.payloads,
    example,
    auth: app.auth,
    users: app.users,
    close: () => app.close(),
  };
}

/** The caller a payload record names: the token's name, else the user, else `local`; null for an anonymous call. */
function callerName(p: Principal): string | null {
  return p.token?.name ?? p.user ?? (p.subject === 'anonymous' ? null : p.subject);
}

/** An inference call refused for its credentials, as an audit event (the route is the protocol family, not the path). */
function inferenceDenial(method: string, path: string, error: ModelportError): AuditEvent {
  const family = path.startsWith('grpc:')
    ? path
    : path.startsWith('/v2')
      ? '/v2/models/:model'
      : path.startsWith('/v1')
        ? '/v1/models/:model'
        : path;
  const model = /^\/v[12]\/models\/([^/:]+)/.exec(path)?.[1];
  return {
    principal: undefined,
    method,
    route: family,
    object: model === undefined ? undefined : safeDecode(model),
    status: error.httpStatus,
    errorCode: error.code,
  };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value).slice(0, 256);
  } catch {
    return value.slice(0, 256);
  }
}

/** The OIDC client secret from its file; a missing or empty file stops the start naming the setting. */
async function readClientSecret(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new ModelportError(
      'invalid_config',
      `--oidc-client-secret-file / MODELPORT_OIDC_CLIENT_SECRET_FILE: cannot read ${file} (${error.code ?? error.message})`,
      { field: 'oidcClientSecretFile' },
    );
  });
  if (text.trim() === '') {
    throw new ModelportError(
      'invalid_config',
      `--oidc-client-secret-file / MODELPORT_OIDC_CLIENT_SECRET_FILE: ${file} is empty; put the client secret in it`,
      { field: 'oidcClientSecretFile' },
    );
  }
  return text.trim();
}

/** A scan as a node of the lineage graph. */
function scanNode(scan: Scan, trust: number | null): LineageScanResult {
  return {
    id: scan.id,
    name: `${scan.usecase} #${scan.number}`,
    state: scan.state,
    link: `/scans/${scan.id}`,
    time: scan.finishedAt ?? scan.createdAt,
    detail: { usecase: scan.usecase, kinds: scan.kinds.join(', '), trust },
  };
}
