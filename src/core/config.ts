/**
 * Server settings: raw strings from flags and environment in, one validated and frozen `ServerConfig` out.
 *
 * The entry point is the only place that reads `process.argv` and `process.env`; it builds `RawSettings` and calls
 * `compileServerConfig`. Every error names the setting (flag and variable) and the fix.
 */
import { isAbsolute, resolve } from 'node:path';
import { ModelportError } from './errors.ts';
import { parseDuration, parseSize } from './units.ts';

/** One entry per setting: its flag, its environment variable, and its default. Listed in the README. */
export const SETTINGS = {
  host: { flag: '--host', env: 'MODELPORT_HOST', default: '127.0.0.1' },
  port: { flag: '--port', env: 'MODELPORT_PORT', default: '8080' },
  grpcPort: { flag: '--grpc-port', env: 'MODELPORT_GRPC_PORT', default: '8081' },
  home: { flag: '--home', env: 'MODELPORT_HOME', default: './.modelport' },
  databaseUrl: { flag: '--database-url', env: 'MODELPORT_DATABASE_URL', default: '' },
  artifacts: { flag: '--artifacts', env: 'MODELPORT_ARTIFACTS', default: '' },
  s3Endpoint: { flag: '--s3-endpoint', env: 'MODELPORT_S3_ENDPOINT', default: '' },
  example: { flag: '--no-example', env: 'MODELPORT_EXAMPLE', default: 'true' },
  maxUploadSize: { flag: '--max-upload-size', env: 'MODELPORT_MAX_UPLOAD_SIZE', default: '2GiB' },
  maxRequestSize: { flag: '--max-request-size', env: 'MODELPORT_MAX_REQUEST_SIZE', default: '64MiB' },
  maxConnections: { flag: '--max-connections', env: 'MODELPORT_MAX_CONNECTIONS', default: '4096' },
  shutdownTimeout: { flag: '--shutdown-timeout', env: 'MODELPORT_SHUTDOWN_TIMEOUT', default: '30s' },
  headersTimeout: { flag: '--headers-timeout', env: 'MODELPORT_HEADERS_TIMEOUT', default: '10s' },
  bodyTimeout: { flag: '--body-timeout', env: 'MODELPORT_BODY_TIMEOUT', default: '60s' },
  uploadTimeout: { flag: '--upload-timeout', env: 'MODELPORT_UPLOAD_TIMEOUT', default: '5m' },
  jobConcurrency: { flag: '--job-concurrency', env: 'MODELPORT_JOB_CONCURRENCY', default: '1' },
  scanParallel: { flag: '--scan-parallel', env: 'MODELPORT_SCAN_PARALLEL', default: '1' },
  scanCpu: { flag: '--scan-cpu', env: 'MODELPORT_SCAN_CPU', default: '1' },
  scanMemory: { flag: '--scan-memory', env: 'MODELPORT_SCAN_MEMORY', default: '1Gi' },
  secretKeyFile: { flag: '--secret-key-file', env: 'MODELPORT_SECRET_KEY_FILE', default: '' },
  egressAllowHosts: { flag: '--egress-allow-hosts', env: 'MODELPORT_EGRESS_ALLOW_HOSTS', default: '' },
  openlineageUrl: { flag: '--openlineage-url', env: 'MODELPORT_OPENLINEAGE_URL', default: '' },
  openlineageNamespace: {
    flag: '--openlineage-namespace',
    env: 'MODELPORT_OPENLINEAGE_NAMESPACE',
    default: 'modelport',
  },
  kubeconfig: { flag: '--kubeconfig', env: 'MODELPORT_KUBECONFIG', default: '' },
  kubeContext: { flag: '--kube-context', env: 'MODELPORT_KUBE_CONTEXT', default: '' },
  kubeNamespace: { flag: '--kube-namespace', env: 'MODELPORT_KUBE_NAMESPACE', default: 'modelport' },
  kubeFormat: { flag: '--kube-format', env: 'MODELPORT_KUBE_FORMAT', default: 'kserve' },
  imagePullSecrets: { flag: '--image-pull-secrets', env: 'MODELPORT_IMAGE_PULL_SECRETS', default: '' },
  modelportImage: { flag: '--modelport-image', env: 'MODELPORT_IMAGE', default: 'ghcr.io/modelport/modelport:0.1.0' },
  bundleDir: { flag: '--bundle-dir', env: 'MODELPORT_BUNDLE_DIR', default: '' },
  readyTimeout: { flag: '--ready-timeout', env: 'MODELPORT_READY_TIMEOUT', default: '5m' },
  logLevel: { flag: '--log-level', env: 'MODELPORT_LOG_LEVEL', default: 'info' },
  auth: { flag: '--auth', env: 'MODELPORT_AUTH', default: 'false' },
  insecureNoAuth: { flag: '--insecure-no-auth', env: 'MODELPORT_INSECURE_NO_AUTH', default: 'false' },
  allowedHosts: { flag: '--allowed-hosts', env: 'MODELPORT_ALLOWED_HOSTS', default: '' },
  sessionTtl: { flag: '--session-ttl', env: 'MODELPORT_SESSION_TTL', default: '12h' },
  oidcIssuer: { flag: '--oidc-issuer', env: 'MODELPORT_OIDC_ISSUER', default: '' },
  oidcClientId: { flag: '--oidc-client-id', env: 'MODELPORT_OIDC_CLIENT_ID', default: '' },
  oidcClientSecretFile: { flag: '--oidc-client-secret-file', env: 'MODELPORT_OIDC_CLIENT_SECRET_FILE', default: '' },
  oidcRedirectUrl: { flag: '--oidc-redirect-url', env: 'MODELPORT_OIDC_REDIRECT_URL', default: '' },
  oidcScopes: { flag: '--oidc-scopes', env: 'MODELPORT_OIDC_SCOPES', default: 'openid profile email' },
  oidcUsernameClaim: {
    flag: '--oidc-username-claim',
    env: 'MODELPORT_OIDC_USERNAME_CLAIM',
    default: 'preferred_username',
  },
  oidcGroupsClaim: { flag: '--oidc-groups-claim', env: 'MODELPORT_OIDC_GROUPS_CLAIM', default: 'groups' },
  oidcGroupMap: { flag: '--oidc-group-map', env: 'MODELPORT_OIDC_GROUP_MAP', default: '' },
  otlpEndpoint: { flag: '--otlp-endpoint', env: 'MODELPORT_OTLP_ENDPOINT', default: '' },
  traceSample: { flag: '--trace-sample', env: 'MODELPORT_TRACE_SAMPLE', default: '1' },
} as const;

/** What the server logs: `debug` adds detail, `silent` logs nothing. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Settings given on the command line as a bare flag (`--auth`), not `--flag value`. */
export const BOOLEAN_SETTINGS: ReadonlySet<SettingName> = new Set(['example', 'auth', 'insecureNoAuth']);

/** How the server identifies callers. */
export interface AuthSettings {
  /**
   * True with --auth, or whenever the server listens on an address other than loopback (unless
   * --insecure-no-auth): every route but the health probes then needs a token.
   */
  enabled: boolean;
  /** Auth is off on a non-loopback address (--insecure-no-auth): the server warns on every start. */
  insecure: boolean;
  /** MODELPORT_TOKEN_KEY (base64 or hex of 32 bytes), read only from the environment; undefined: `<home>/token.key`. */
  tokenKey: string | undefined;
  /** The HMAC key of API tokens, created 0600 on first start. */
  tokenKeyFile: string;
  /** Where the first start with auth on writes the server admin's token (0600). */
  adminTokenFile: string;
}

/** Sign-in to the web console through an OpenID Connect provider (authorization code + PKCE). */
export interface OidcSettings {
  /** The provider's issuer URL (https, or http on loopback); its discovery document is read at start. */
  issuer: string;
  clientId: string;
  /** From MODELPORT_OIDC_CLIENT_SECRET (environment only) ... */
  clientSecret: string | undefined;
  /** ... or read from this file at start (undefined: a public client, PKCE only). */
  clientSecretFile: string | undefined;
  /** Where the provider sends the browser back: `<public URL>/auth/callback`, registered with the provider. */
  redirectUrl: string;
  scopes: string;
  /** The ID token claim that names the Modelport user (default `preferred_username`). */
  usernameClaim: string;
  /** The ID token claim that lists the user's groups at the provider (default `groups`). */
  groupsClaim: string;
  /** Provider group -> Modelport group; the user's membership of the mapped Modelport groups follows the claim. */
  groupMap: ReadonlyMap<string, readonly string[]>;
}

/** The web console's sign-in and the browser guards. */
export interface ConsoleSettings {
  /**
   * Host names (lowercase, optionally with :port) the Host header may carry besides loopback names and IP
   * literals, which are always allowed: the guard against DNS rebinding. The OIDC redirect URL's host is added.
   */
  allowedHosts: readonly string[];
  /** How long a console session lasts (default 12 hours). */
  sessionTtlMs: number;
  oidc: Readonly<OidcSettings> | undefined;
}

/** How the Kubernetes backend renders: a KServe InferenceService (Standard or Knative mode) or a Knative Service. */
export const KUBERNETES_FORMATS = ['kserve', 'kserve-knative', 'knative'] as const;
export type KubernetesFormatName = (typeof KUBERNETES_FORMATS)[number];

/** The Kubernetes backend's settings. */
export interface KubernetesSettings {
  /**
   * True when a kubeconfig is given or the server runs in a pod (KUBERNETES_SERVICE_HOST is set): only then can
   * deployments use `backend: kubernetes`. Export works either way.
   */
  enabled: boolean;
  /** A kubeconfig file; undefined means the in-cluster service account (or KUBECONFIG / ~/.kube/config). */
  kubeconfig: string | undefined;
  /** A context of the kubeconfig other than its current one. */
  context: string | undefined;
  /** Where deployments go (default `modelport`). */
  namespace: string;
  format: KubernetesFormatName;
  /** Secrets (in the namespace) for pulling private images. */
  imagePullSecrets: readonly string[];
  /** How long a revision may take to turn Ready (default 5 minutes). */
  readyTimeoutMs: number;
}

export type SettingName = keyof typeof SETTINGS;
export type RawSettings = Partial<Record<SettingName, string>>;

export interface S3Settings {
  endpoint: string | undefined;
  region: string | undefined;
  accessKeyId: string | undefined;
  secretAccessKey: string | undefined;
  sessionToken: string | undefined;
}

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  /** 0 disables the gRPC listener. */
  readonly grpcPort: number;
  /** Absolute path of the home folder (SQLite file, artifacts, caches, key files). */
  readonly home: string;
  /** undefined means SQLite in the home folder. */
  readonly databaseUrl: string | undefined;
  /** A folder path or `s3://bucket/prefix`; defaults to `<home>/artifacts`. */
  readonly artifacts: string;
  readonly s3: Readonly<S3Settings>;
  /** Register and deploy the example fraud model on a first start. */
  readonly example: boolean;
  readonly maxUploadBytes: number;
  readonly maxRequestBytes: number;
  /** Open HTTP connections at most; one more is closed at once, before anything of it is read. */
  readonly maxConnections: number;
  readonly shutdownTimeoutMs: number;
  /** How long a client may take to send headers, a JSON or inference body, and any request (uploads). */
  readonly httpTimeouts: Readonly<{ headersMs: number; bodyMs: number; uploadMs: number }>;
  /** Batch scoring jobs running at once. */
  readonly jobConcurrency: number;
  /** Scans of a use case at once, and each scan's threads and memory, unless the use case's scanConfig says. */
  readonly scanConfig: Readonly<{ parallel: number; cpu: string; memory: string }>;
  /**
   * The secrets key (base64 or hex of 32 bytes) from MODELPORT_SECRET_KEY, read only from the environment (never a
   * flag, so it stays out of `ps`). undefined means the key file below.
   */
  readonly secretKey: string | undefined;
  /** Key file used when MODELPORT_SECRET_KEY is absent; `<home>/secret.key` by default, created 0600 on first start. */
  readonly secretKeyFile: string;
  /** Hosts (`name` or `name:port`, lowercase) that outbound calls may reach even at private addresses. */
  readonly egressAllowHosts: readonly string[];
  /** Where runs, steps and rollouts send OpenLineage RunEvents (through the egress guard); off when `url` is unset. */
  readonly openLineage: Readonly<{ url: string | undefined; namespace: string }>;
  readonly kubernetes: Readonly<KubernetesSettings>;
  /** The image that runs onnx, js and hosted models in single-model mode on Kubernetes and compose. */
  readonly modelportImage: string;
  /** Folder of the compose backend's bundles, one per deployment (`<home>/bundles` by default). */
  readonly bundleDir: string;
  /** Lowest level written to the log (default info). */
  readonly logLevel: LogLevel;
  readonly auth: Readonly<AuthSettings>;
  readonly console: Readonly<ConsoleSettings>;
  /** Traces to an OTLP/HTTP (JSON) endpoint; undefined: tracing off (the default), nothing of the SDK loaded. */
  readonly tracing: Readonly<{ endpoint: string; sampleRatio: number }> | undefined;
}

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

function fail(name: SettingName, message: string): never {
  const setting = SETTINGS[name];
  throw new ModelportError('invalid_config', `${setting.flag} / ${setting.env}: ${message}`, { field: name });
}

function port(name: SettingName, value: string, allowZero: boolean): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535 || (!allowZero && n === 0)) {
    fail(name, `'${value}' is not a port number; use an integer from ${allowZero ? 0 : 1} to 65535`);
  }
  return n;
}

function size(name: SettingName, value: string): number {
  const n = parseSize(value);
  if (n === undefined || n <= 0) fail(name, `'${value}' is not a size; use bytes or a unit such as 64MiB or 2GB`);
  return n;
}

/** Validates and freezes the settings. `cwd` resolves a relative home. `env` supplies the AWS_* variables. */
export function compileServerConfig(
  raw: RawSettings,
  env: Readonly<Record<string, string | undefined>> = {},
  cwd = '.',
): ServerConfig {
  const get = (name: SettingName): string => (raw[name] ?? SETTINGS[name].default).trim();

  const host = get('host');
  if (!/^[a-zA-Z0-9.:_-]+$/.test(host)) fail('host', `'${host}' is not a host name or IP address`);

  const home = resolve(cwd, get('home'));

  const databaseUrl = get('databaseUrl') || undefined;
  if (databaseUrl !== undefined && !/^(postgres(ql)?:\/\/|sqlite:|\/|\.)/.test(databaseUrl)) {
    fail('databaseUrl', 'use a postgres://user@host:port/db URL, or a path to a SQLite file');
  }

  const artifacts = get('artifacts') || resolve(home, 'artifacts');
  if (artifacts.includes('://') && !artifacts.startsWith('s3://')) {
    fail('artifacts', `only folders and s3://bucket/prefix are supported, not '${artifacts.split('://')[0]}://'`);
  }
  if (artifacts.startsWith('s3://') && !/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(artifacts)) {
    fail('artifacts', 'an S3 location is s3://bucket/optional/prefix with a valid bucket name');
  }

  const boolean = (name: SettingName): boolean => {
    const value = get(name).toLowerCase();
    if (!['true', 'false', '1', '0', 'yes', 'no'].includes(value)) {
      fail(name, `'${value}' is not a boolean; use true or false`);
    }
    return ['true', '1', 'yes'].includes(value);
  };
  const example = boolean('example');
  const authFlag = boolean('auth');
  const insecureNoAuth = boolean('insecureNoAuth');
  if (authFlag && insecureNoAuth) fail('insecureNoAuth', 'it contradicts --auth / MODELPORT_AUTH; give one of them');
  if (insecureNoAuth && isLoopbackHost(host)) {
    fail('insecureNoAuth', `the server listens on loopback (${host}), where auth is off already; drop the flag`);
  }
  const tokenKey = env['MODELPORT_TOKEN_KEY']?.trim() || undefined;
  if (tokenKey !== undefined && !isSecretKey(tokenKey)) {
    throw new ModelportError(
      'invalid_config',
      'MODELPORT_TOKEN_KEY: use 32 random bytes as base64 or hex, e.g. the output of `openssl rand -base64 32`',
      { field: 'tokenKey' },
    );
  }

  const jobConcurrency = Number(get('jobConcurrency'));
  if (!/^\d+$/.test(get('jobConcurrency')) || jobConcurrency < 1 || jobConcurrency > 64) {
    fail('jobConcurrency', `'${get('jobConcurrency')}' is not a job count; use an integer from 1 to 64`);
  }
  const scanParallel = Number(get('scanParallel'));
  if (!/^\d+$/.test(get('scanParallel')) || scanParallel < 1 || scanParallel > 16) {
    fail('scanParallel', `'${get('scanParallel')}' is not a scan count; use an integer from 1 to 16`);
  }
  if (!/^\d+(\.\d+)?m?$/.test(get('scanCpu')))
    fail('scanCpu', `'${get('scanCpu')}' is not a CPU quantity; write 1, 2 or 500m`);
  const scanMemory = parseSize(get('scanMemory'));
  if (scanMemory === undefined || scanMemory < 64 * 1024 * 1024) {
    fail('scanMemory', `'${get('scanMemory')}' is not a memory size of at least 64Mi; write 1Gi or 512Mi`);
  }
  const maxConnections = Number(get('maxConnections'));
  if (!/^\d+$/.test(get('maxConnections')) || maxConnections < 1 || maxConnections > 1_000_000) {
    fail('maxConnections', `'${get('maxConnections')}' is not a connection count; use an integer from 1 to 1000000`);
  }
  const shutdownTimeoutMs = parseDuration(get('shutdownTimeout'));
  if (shutdownTimeoutMs === undefined) fail('shutdownTimeout', 'use a duration such as 30s or 500ms');

  const positiveDuration = (name: SettingName): number => {
    const ms = parseDuration(get(name));
    if (ms === undefined || ms <= 0) fail(name, `'${get(name)}' is not a duration; use one such as 10s or 5m`);
    return ms;
  };
  const httpTimeouts = Object.freeze({
    headersMs: positiveDuration('headersTimeout'),
    bodyMs: positiveDuration('bodyTimeout'),
    uploadMs: positiveDuration('uploadTimeout'),
  });
  if (httpTimeouts.headersMs > httpTimeouts.uploadMs) {
    fail('headersTimeout', 'must not be longer than --upload-timeout (the bound of a whole request)');
  }

  const s3Endpoint = get('s3Endpoint') || env['AWS_ENDPOINT_URL_S3'] || env['AWS_ENDPOINT_URL'] || undefined;
  if (s3Endpoint !== undefined && !/^https?:\/\/[^\s/]+/.test(s3Endpoint)) {
    fail('s3Endpoint', 'use an http:// or https:// URL of the S3-compatible server');
  }

  const secretKey = env['MODELPORT_SECRET_KEY']?.trim() || undefined;
  if (secretKey !== undefined && !isSecretKey(secretKey)) {
    throw new ModelportError(
      'invalid_config',
      'MODELPORT_SECRET_KEY: use 32 random bytes as base64 or hex, e.g. the output of `openssl rand -base64 32`',
      { field: 'secretKey' },
    );
  }

  const egressAllowHosts = get('egressAllowHosts')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  for (const entry of egressAllowHosts) {
    if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+|[0-9a-f:]+)(:\d{1,5})?$/.test(entry)) {
      fail('egressAllowHosts', `'${entry}' is not a host or host:port; list names like api.example.com,10.0.0.5:8080`);
    }
  }

  const openlineageUrl = get('openlineageUrl') || undefined;
  if (openlineageUrl !== undefined && (!URL.canParse(openlineageUrl) || !/^https?:\/\//.test(openlineageUrl))) {
    fail('openlineageUrl', `'${openlineageUrl}' is not an http(s) URL; e.g. http://marquez:5000/api/v1/lineage`);
  }
  const openlineageNamespace = get('openlineageNamespace');
  if (!/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$/.test(openlineageNamespace)) {
    fail('openlineageNamespace', `'${openlineageNamespace}' is not a namespace; use letters, digits and . _ : / -`);
  }

  const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
  const kubeNamespace = get('kubeNamespace');
  if (!dnsLabel.test(kubeNamespace)) {
    fail('kubeNamespace', `'${kubeNamespace}' is not a namespace name; use up to 63 lowercase letters, digits or -`);
  }
  const kubeFormat = get('kubeFormat') as KubernetesFormatName;
  if (!KUBERNETES_FORMATS.includes(kubeFormat)) {
    fail('kubeFormat', `'${kubeFormat}' is not a Kubernetes format; use ${KUBERNETES_FORMATS.join(', ')}`);
  }
  const imagePullSecrets = get('imagePullSecrets')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const name of imagePullSecrets) {
    if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) {
      fail('imagePullSecrets', `'${name}' is not a Secret name; list names like regcred,ghcr-pull`);
    }
  }
  const modelportImage = get('modelportImage');
  if (!/^[a-z0-9][a-z0-9._\-/:@]*$/i.test(modelportImage) || /\s/.test(modelportImage)) {
    fail('modelportImage', `'${modelportImage}' is not an image reference; use registry/name:tag`);
  }
  const readyTimeoutMs = parseDuration(get('readyTimeout'));
  if (readyTimeoutMs === undefined || readyTimeoutMs <= 0) fail('readyTimeout', 'use a duration such as 5m or 90s');
  const kubeconfig = get('kubeconfig') ? resolve(cwd, get('kubeconfig')) : undefined;
  const logLevel = get('logLevel').toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(logLevel))
    fail('logLevel', `'${get('logLevel')}' is not a level; use one of ${LOG_LEVELS.join(', ')}`);

  const otlpEndpoint = get('otlpEndpoint') || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] || '';
  if (otlpEndpoint !== '' && !/^https?:\/\/[^\s/]+/.test(otlpEndpoint)) {
    fail(
      'otlpEndpoint',
      `'${otlpEndpoint}' is not an http:// or https:// URL; use e.g. http://collector:4318/v1/traces`,
    );
  }
  const sampleRatio = Number(get('traceSample'));
  if (!/^(0|1|0?\.\d+|1\.0*)$/.test(get('traceSample').trim()) || !(sampleRatio >= 0 && sampleRatio <= 1)) {
    fail('traceSample', `'${get('traceSample')}' is not a fraction; use a number from 0 to 1, e.g. 0.1`);
  }

  const authEnabled = authFlag || (!isLoopbackHost(host) && !insecureNoAuth);
  const consoleSettings = compileConsoleSettings(get, env, cwd, authEnabled);

  return Object.freeze({
    host,
    port: port('port', get('port'), true),
    grpcPort: port('grpcPort', get('grpcPort'), true),
    home: isAbsolute(home) ? home : resolve(home),
    databaseUrl,
    artifacts,
    s3: Object.freeze({
      endpoint: s3Endpoint,
      region: env['AWS_REGION'] || env['AWS_DEFAULT_REGION'] || undefined,
      accessKeyId: env['AWS_ACCESS_KEY_ID'] || undefined,
      secretAccessKey: env['AWS_SECRET_ACCESS_KEY'] || undefined,
      sessionToken: env['AWS_SESSION_TOKEN'] || undefined,
    }),
    example,
    maxUploadBytes: size('maxUploadSize', get('maxUploadSize')),
    maxRequestBytes: size('maxRequestSize', get('maxRequestSize')),
    maxConnections,
    shutdownTimeoutMs,
    httpTimeouts,
    jobConcurrency,
    scanConfig: Object.freeze({ parallel: scanParallel, cpu: get('scanCpu'), memory: get('scanMemory') }),
    secretKey,
    secretKeyFile: resolve(home, get('secretKeyFile') || 'secret.key'),
    egressAllowHosts: Object.freeze(egressAllowHosts),
    openLineage: Object.freeze({ url: openlineageUrl, namespace: openlineageNamespace }),
    kubernetes: Object.freeze({
      enabled: kubeconfig !== undefined || Boolean(env['KUBERNETES_SERVICE_HOST']),
      kubeconfig,
      context: get('kubeContext') || undefined,
      namespace: kubeNamespace,
      format: kubeFormat,
      imagePullSecrets: Object.freeze(imagePullSecrets),
      readyTimeoutMs,
    }),
    modelportImage,
    bundleDir: resolve(home, get('bundleDir') || 'bundles'),
    logLevel,
    auth: Object.freeze({
      enabled: authEnabled,
      insecure: insecureNoAuth,
      tokenKey,
      tokenKeyFile: resolve(home, 'token.key'),
      adminTokenFile: resolve(home, 'admin-token'),
    }),
    console: consoleSettings,
    tracing: otlpEndpoint === '' ? undefined : Object.freeze({ endpoint: otlpEndpoint, sampleRatio }),
  });
}

const HOST_NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:\d{1,5})?$/;
const CLAIM = /^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/;

function compileConsoleSettings(
  get: (name: SettingName) => string,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
  authEnabled: boolean,
): Readonly<ConsoleSettings> {
  const allowedHosts = get('allowedHosts')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  for (const entry of allowedHosts) {
    if (!HOST_NAME.test(entry)) {
      fail('allowedHosts', `'${entry}' is not a host name; list names like modelport.example.com,ml.internal:8080`);
    }
  }
  const sessionTtlMs = parseDuration(get('sessionTtl'));
  if (sessionTtlMs === undefined || sessionTtlMs < 60_000 || sessionTtlMs > 30 * 24 * 3600_000) {
    fail('sessionTtl', `'${get('sessionTtl')}' is not a duration from 1m to 720h; use e.g. 12h`);
  }

  const issuer = get('oidcIssuer');
  const clientId = get('oidcClientId');
  const redirectUrl = get('oidcRedirectUrl');
  const clientSecret = env['MODELPORT_OIDC_CLIENT_SECRET']?.trim() || undefined;
  const clientSecretFile = get('oidcClientSecretFile') ? resolve(cwd, get('oidcClientSecretFile')) : undefined;
  const anyOidc = issuer || clientId || redirectUrl || clientSecret || clientSecretFile || get('oidcGroupMap');
  let oidc: OidcSettings | undefined;
  if (anyOidc) {
    if (!issuer)
      fail('oidcIssuer', "OIDC sign-in needs the provider's issuer URL, e.g. https://login.example.com/realms/ml");
    const issuerUrl = parseUrl(issuer);
    if (!issuerUrl || !['https:', 'http:'].includes(issuerUrl.protocol) || issuerUrl.username || issuerUrl.search) {
      fail('oidcIssuer', `'${issuer}' is not an issuer URL; use https://host/path`);
    }
    if (issuerUrl.protocol === 'http:' && !isLoopbackHost(issuerUrl.hostname)) {
      fail('oidcIssuer', 'the issuer must use https (http only on loopback, for tests)');
    }
    if (!clientId) fail('oidcClientId', 'OIDC sign-in needs the client id registered with the provider');
    if (!/^[\x21-\x7e]{1,255}$/.test(clientId)) fail('oidcClientId', 'a client id is printable text without spaces');
    if (!redirectUrl) {
      fail(
        'oidcRedirectUrl',
        'OIDC sign-in needs the URL the provider sends browsers back to: <server URL>/auth/callback',
      );
    }
    const redirect = parseUrl(redirectUrl);
    if (!redirect || !['https:', 'http:'].includes(redirect.protocol) || redirect.pathname !== '/auth/callback') {
      fail('oidcRedirectUrl', `'${redirectUrl}' must be an http(s) URL ending in /auth/callback`);
    }
    if (redirect.protocol === 'http:' && !isLoopbackHost(redirect.hostname)) {
      fail(
        'oidcRedirectUrl',
        'use https (http only on loopback): the session cookie must not cross the network in clear',
      );
    }
    if (!authEnabled) {
      fail('oidcIssuer', 'OIDC sign-in needs auth on: add --auth (on loopback everyone is the local user already)');
    }
    const usernameClaim = get('oidcUsernameClaim');
    if (!CLAIM.test(usernameClaim)) fail('oidcUsernameClaim', `'${usernameClaim}' is not a claim name`);
    const groupsClaim = get('oidcGroupsClaim');
    if (!CLAIM.test(groupsClaim)) fail('oidcGroupsClaim', `'${groupsClaim}' is not a claim name`);
    const scopes = get('oidcScopes');
    if (!/^[\x21-\x7e]+( [\x21-\x7e]+)*$/.test(scopes) || !scopes.split(' ').includes('openid')) {
      fail('oidcScopes', `'${scopes}' must be space-separated scopes including openid`);
    }
    const groupMap = new Map<string, string[]>();
    for (const pair of get('oidcGroupMap')
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '')) {
      const eq = pair.lastIndexOf('=');
      const from = pair.slice(0, eq).trim();
      const to = pair.slice(eq + 1).trim();
      if (eq <= 0 || !from || !/^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/.test(to)) {
        fail(
          'oidcGroupMap',
          `'${pair}' is not provider-group=modelport-group (a Modelport group name: lowercase letters, digits, '.', '_', '-')`,
        );
      }
      groupMap.set(from, [...(groupMap.get(from) ?? []), to]);
    }
    if (redirect.host && !allowedHosts.includes(redirect.host.toLowerCase()))
      allowedHosts.push(redirect.host.toLowerCase());
    oidc = Object.freeze({
      issuer,
      clientId,
      clientSecret,
      clientSecretFile,
      redirectUrl: redirect.href,
      scopes,
      usernameClaim,
      groupsClaim,
      groupMap,
    });
  }
  return Object.freeze({ allowedHosts: Object.freeze(allowedHosts), sessionTtlMs, oidc });
}

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/** True for 32 bytes written as 64 hex digits or as base64. */
export function isSecretKey(text: string): boolean {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return true;
  return /^[A-Za-z0-9+/_-]{43}=?$/.test(text) && Buffer.from(text, 'base64').length === 32;
}

/** Reads RawSettings from the environment; flags given on the command line override them. */
export function settingsFromEnv(env: Readonly<Record<string, string | undefined>>): RawSettings {
  const raw: RawSettings = {};
  for (const [name, setting] of Object.entries(SETTINGS) as [SettingName, (typeof SETTINGS)[SettingName]][]) {
    const value = env[setting.env];
    if (value !== undefined && value !== '') raw[name] = value;
  }
  return raw;
}
