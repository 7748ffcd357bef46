import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileServerConfig, settingsFromEnv } from './config.ts';
import { ModelportError } from './errors.ts';

describe('compileServerConfig', () => {
  test('client timeouts: defaults, units, and errors naming the setting', () => {
    assert.deepEqual(compileServerConfig({}).httpTimeouts, { headersMs: 10_000, bodyMs: 60_000, uploadMs: 300_000 });
    assert.deepEqual(compileServerConfig({ bodyTimeout: '2s', uploadTimeout: '1h' }).httpTimeouts, {
      headersMs: 10_000,
      bodyMs: 2_000,
      uploadMs: 3_600_000,
    });
    for (const [raw, field] of [
      [{ bodyTimeout: 'soon' }, 'bodyTimeout'],
      [{ headersTimeout: '0s' }, 'headersTimeout'],
      [{ headersTimeout: '10m', uploadTimeout: '1m' }, 'headersTimeout'],
    ] as const) {
      assert.throws(
        () => compileServerConfig(raw),
        (e: unknown) => e instanceof ModelportError && e.code === 'invalid_config' && e.field === field,
      );
    }
  });

  test('defaults: loopback, 8080/8081, home ./.modelport, SQLite, folder artifacts, example on', () => {
    const config = compileServerConfig({}, {}, '/srv');
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 8080);
    assert.equal(config.grpcPort, 8081);
    assert.equal(config.home, '/srv/.modelport');
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.artifacts, '/srv/.modelport/artifacts');
    assert.equal(config.example, true);
    assert.equal(config.shutdownTimeoutMs, 30_000);
    assert.equal(config.maxConnections, 4096);
    assert.ok(Object.isFrozen(config));
  });

  test('auth: off on loopback, on with --auth or off loopback, off there only with --insecure-no-auth', () => {
    const on = (raw: Record<string, string>) => compileServerConfig(raw, {}, '/srv').auth;
    assert.deepEqual(
      [
        on({}).enabled,
        on({ host: 'localhost' }).enabled,
        on({ host: '::1' }).enabled,
        on({ host: '127.0.0.2' }).enabled,
      ],
      [false, false, false, false],
    );
    assert.equal(on({ auth: 'true' }).enabled, true);
    assert.equal(on({ host: '0.0.0.0' }).enabled, true);
    assert.equal(on({ host: '192.168.1.10' }).enabled, true);
    assert.deepEqual(
      {
        enabled: on({ host: '0.0.0.0', insecureNoAuth: 'true' }).enabled,
        insecure: on({ host: '0.0.0.0', insecureNoAuth: 'true' }).insecure,
      },
      { enabled: false, insecure: true },
    );
    assert.equal(on({}).adminTokenFile, '/srv/.modelport/admin-token');
    assert.equal(settingsFromEnv({ MODELPORT_AUTH: 'true' }).auth, 'true');
    assert.throws(
      () => compileServerConfig({}, { MODELPORT_TOKEN_KEY: 'short' }),
      (e: unknown) => e instanceof ModelportError && e.message.startsWith('MODELPORT_TOKEN_KEY'),
    );
  });

  test('environment variables are read by name, flags override them', () => {
    const raw = { ...settingsFromEnv({ MODELPORT_PORT: '9000', MODELPORT_HOME: '/data' }), port: '9100' };
    const config = compileServerConfig(raw, {}, '/');
    assert.equal(config.port, 9100);
    assert.equal(config.home, '/data');
  });

  test('S3 settings come from the usual AWS variables', () => {
    const config = compileServerConfig(
      { artifacts: 's3://models/prod', s3Endpoint: 'http://127.0.0.1:9000' },
      {
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'id',
        AWS_SECRET_ACCESS_KEY: 'secret',
      },
    );
    assert.equal(config.artifacts, 's3://models/prod');
    assert.deepEqual(
      { ...config.s3 },
      {
        endpoint: 'http://127.0.0.1:9000',
        region: 'eu-west-1',
        accessKeyId: 'id',
        secretAccessKey: 'secret',
        sessionToken: undefined,
      },
    );
  });

  test('secrets: key from MODELPORT_SECRET_KEY only, key file defaults to <home>/secret.key', () => {
    const hex = 'ab'.repeat(32);
    const base64 = Buffer.alloc(32, 7).toString('base64');
    assert.equal(compileServerConfig({}, { MODELPORT_SECRET_KEY: hex }, '/srv').secretKey, hex);
    assert.equal(compileServerConfig({}, { MODELPORT_SECRET_KEY: base64 }, '/srv').secretKey, base64);
    const config = compileServerConfig({ home: '/data' }, {}, '/');
    assert.equal(config.secretKey, undefined);
    assert.equal(config.secretKeyFile, '/data/secret.key');
    assert.equal(compileServerConfig({ home: '/data', secretKeyFile: 'keys/k' }).secretKeyFile, '/data/keys/k');
    for (const wrong of ['short', 'ab'.repeat(31), Buffer.alloc(16).toString('base64')]) {
      assert.throws(
        () => compileServerConfig({}, { MODELPORT_SECRET_KEY: wrong }),
        (e: unknown) =>
          e instanceof ModelportError &&
          e.field === 'secretKey' &&
          !e.message.includes(wrong) &&
          /32 random bytes/.test(e.message),
      );
    }
  });

  test('egress allow list: comma separated, trimmed, lowercased', () => {
    assert.deepEqual(compileServerConfig({}).egressAllowHosts, []);
    const config = compileServerConfig({ egressAllowHosts: ' Models.Internal , 10.0.0.5:8080,[::1]:9000' });
    assert.deepEqual(config.egressAllowHosts, ['models.internal', '10.0.0.5:8080', '[::1]:9000']);
    assert.ok(Object.isFrozen(config.egressAllowHosts));
  });

  test('OpenLineage: off by default; an http(s) URL and a namespace turn it on', () => {
    assert.deepEqual({ ...compileServerConfig({}).openLineage }, { url: undefined, namespace: 'modelport' });
    const config = compileServerConfig({
      openlineageUrl: 'http://marquez:5000/api/v1/lineage',
      openlineageNamespace: 'ml-prod',
    });
    assert.deepEqual({ ...config.openLineage }, { url: 'http://marquez:5000/api/v1/lineage', namespace: 'ml-prod' });
  });

  test('kubernetes and compose: off without a kubeconfig or a pod, defaults, and settings read by name', () => {
    const defaults = compileServerConfig({}, {}, '/srv');
    assert.deepEqual(
      { ...defaults.kubernetes },
      {
        enabled: false,
        kubeconfig: undefined,
        context: undefined,
        namespace: 'modelport',
        format: 'kserve',
        imagePullSecrets: [],
        readyTimeoutMs: 300_000,
      },
    );
    assert.equal(defaults.modelportImage, 'ghcr.io/modelport/modelport:0.1.0');
    assert.equal(defaults.bundleDir, '/srv/.modelport/bundles');
    assert.equal(compileServerConfig({}, { KUBERNETES_SERVICE_HOST: '10.0.0.1' }).kubernetes.enabled, true);
    const raw = settingsFromEnv({
      MODELPORT_KUBECONFIG: 'kube/config',
      MODELPORT_KUBE_CONTEXT: 'prod',
      MODELPORT_KUBE_NAMESPACE: 'models',
      MODELPORT_KUBE_FORMAT: 'knative',
      MODELPORT_IMAGE_PULL_SECRETS: ' regcred , ghcr-pull',
      MODELPORT_IMAGE: 'registry.example.com/modelport:1.2',
      MODELPORT_BUNDLE_DIR: '/srv/bundles',
      MODELPORT_READY_TIMEOUT: '90s',
    });
    const config = compileServerConfig(raw, {}, '/home/me');
    assert.deepEqual(
      { ...config.kubernetes },
      {
        enabled: true,
        kubeconfig: '/home/me/kube/config',
        context: 'prod',
        namespace: 'models',
        format: 'knative',
        imagePullSecrets: ['regcred', 'ghcr-pull'],
        readyTimeoutMs: 90_000,
      },
    );
    assert.equal(config.modelportImage, 'registry.example.com/modelport:1.2');
    assert.equal(config.bundleDir, '/srv/bundles');
    assert.ok(Object.isFrozen(config.kubernetes));
  });

  const bad: [string, Record<string, string>, string][] = [
    ['port not a number', { port: 'eighty' }, '--port / MODELPORT_PORT'],
    ['port out of range', { port: '70000' }, '--port / MODELPORT_PORT'],
    ['grpc port negative', { grpcPort: '-1' }, '--grpc-port / MODELPORT_GRPC_PORT'],
    ['database scheme', { databaseUrl: 'mysql://x' }, '--database-url / MODELPORT_DATABASE_URL'],
    ['artifacts scheme', { artifacts: 'http://bucket' }, '--artifacts / MODELPORT_ARTIFACTS'],
    ['bucket name', { artifacts: 's3://A' }, '--artifacts / MODELPORT_ARTIFACTS'],
    ['duration', { shutdownTimeout: 'soon' }, '--shutdown-timeout / MODELPORT_SHUTDOWN_TIMEOUT'],
    ['size', { maxUploadSize: '12 parsecs' }, '--max-upload-size / MODELPORT_MAX_UPLOAD_SIZE'],
    ['boolean', { example: 'maybe' }, '--no-example / MODELPORT_EXAMPLE'],
    ['job count', { jobConcurrency: '0' }, '--job-concurrency / MODELPORT_JOB_CONCURRENCY'],
    ['connection count', { maxConnections: 'many' }, '--max-connections / MODELPORT_MAX_CONNECTIONS'],
    ['allowed host', { egressAllowHosts: 'http://x.io/' }, '--egress-allow-hosts / MODELPORT_EGRESS_ALLOW_HOSTS'],
    ['namespace', { kubeNamespace: 'Models_Prod' }, '--kube-namespace / MODELPORT_KUBE_NAMESPACE'],
    ['OpenLineage URL', { openlineageUrl: 'ftp://marquez/' }, '--openlineage-url / MODELPORT_OPENLINEAGE_URL'],
    [
      'OpenLineage namespace',
      { openlineageNamespace: 'a b' },
      '--openlineage-namespace / MODELPORT_OPENLINEAGE_NAMESPACE',
    ],
    ['kubernetes format', { kubeFormat: 'helm' }, '--kube-format / MODELPORT_KUBE_FORMAT'],
    ['pull secret', { imagePullSecrets: 'regcred,Bad Name' }, '--image-pull-secrets / MODELPORT_IMAGE_PULL_SECRETS'],
    ['image', { modelportImage: 'my image:1' }, '--modelport-image / MODELPORT_IMAGE'],
    ['ready timeout', { readyTimeout: 'a while' }, '--ready-timeout / MODELPORT_READY_TIMEOUT'],
    ['log level', { logLevel: 'chatty' }, '--log-level / MODELPORT_LOG_LEVEL'],
    ['auth boolean', { auth: 'sure' }, '--auth / MODELPORT_AUTH'],
    ['auth contradiction', { auth: 'true', insecureNoAuth: 'true', host: '0.0.0.0' }, '--insecure-no-auth'],
    ['needless insecure flag', { insecureNoAuth: 'true' }, '--insecure-no-auth / MODELPORT_INSECURE_NO_AUTH'],
  ];
  for (const [what, raw, names] of bad) {
    test(`refuses a bad ${what}, naming the flag and the variable`, () => {
      assert.throws(
        () => compileServerConfig(raw),
        (e: unknown) => e instanceof ModelportError && e.code === 'invalid_config' && e.message.startsWith(names),
      );
    });
  }
});

describe('console sign-in settings', () => {
  const oidc = {
    auth: 'true',
    oidcIssuer: 'https://login.example.com/realms/ml',
    oidcClientId: 'modelport',
    oidcRedirectUrl: 'https://modelport.example.com/auth/callback',
  };
  const refuses = (raw: Record<string, string>, field: string, message: RegExp) =>
    assert.throws(
      () => compileServerConfig(raw, {}, '/srv'),
      (e: unknown) => e instanceof ModelportError && e.field === field && message.test(e.message),
    );

  test('defaults: no OIDC, 12h sessions, no extra hosts', () => {
    const c = compileServerConfig({}, {}, '/srv').console;
    assert.deepEqual({ ...c }, { allowedHosts: [], sessionTtlMs: 12 * 3600_000, oidc: undefined });
  });

  test('OIDC: issuer, client, secret from the environment or a file, the redirect host allowed, the group map', () => {
    const c = compileServerConfig(
      {
        ...oidc,
        oidcGroupMap: 'ml-team=analysts, ml-admins=platform,ml-admins=analysts',
        allowedHosts: 'ml.internal:8080',
      },
      { MODELPORT_OIDC_CLIENT_SECRET: 's3cret' },
      '/srv',
    ).console;
    assert.equal(c.oidc?.clientSecret, 's3cret');
    assert.equal(c.oidc?.usernameClaim, 'preferred_username');
    assert.deepEqual(
      [...c.oidc!.groupMap],
      [
        ['ml-team', ['analysts']],
        ['ml-admins', ['platform', 'analysts']],
      ],
    );
    assert.deepEqual(c.allowedHosts, ['ml.internal:8080', 'modelport.example.com']);
    const file = compileServerConfig({ ...oidc, oidcClientSecretFile: 'oidc-secret' }, {}, '/srv').console.oidc;
    assert.equal(file?.clientSecretFile, '/srv/oidc-secret');
  });

  test('each wrong OIDC setting is refused naming it', () => {
    refuses({ ...oidc, oidcIssuer: '' }, 'oidcIssuer', /issuer URL/);
    refuses({ ...oidc, oidcIssuer: 'http://login.example.com' }, 'oidcIssuer', /https/);
    refuses({ ...oidc, oidcClientId: '' }, 'oidcClientId', /client id/);
    refuses(
      { ...oidc, oidcRedirectUrl: 'https://modelport.example.com/callback' },
      'oidcRedirectUrl',
      /\/auth\/callback/,
    );
    refuses({ ...oidc, oidcRedirectUrl: 'http://modelport.example.com/auth/callback' }, 'oidcRedirectUrl', /https/);
    refuses({ ...oidc, auth: 'false' }, 'oidcIssuer', /needs auth on/);
    refuses({ ...oidc, oidcGroupMap: 'ml-team' }, 'oidcGroupMap', /provider-group=modelport-group/);
    refuses({ ...oidc, oidcGroupMap: 'ml-team=Analysts' }, 'oidcGroupMap', /lowercase/);
    refuses({ ...oidc, oidcScopes: 'profile' }, 'oidcScopes', /openid/);
    refuses({ ...oidc, oidcUsernameClaim: 'a b' }, 'oidcUsernameClaim', /claim/);
    refuses({ allowedHosts: 'https://x.example' }, 'allowedHosts', /host name/);
    refuses({ sessionTtl: '10s' }, 'sessionTtl', /1m to 720h/);
    // http is fine on loopback (a provider the tests start).
    const local = {
      ...oidc,
      oidcIssuer: 'http://127.0.0.1:9000',
      oidcRedirectUrl: 'http://127.0.0.1:8080/auth/callback',
    };
    assert.equal(compileServerConfig(local, {}, '/srv').console.oidc?.issuer, 'http://127.0.0.1:9000');
  });
});
