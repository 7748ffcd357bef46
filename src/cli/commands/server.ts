/** `modelport server`: runs the whole platform in this process until SIGTERM or SIGINT. */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  BOOLEAN_SETTINGS,
  compileServerConfig,
  type RawSettings,
  SETTINGS,
  type SettingName,
  settingsFromEnv,
} from '../../core/index.ts';
import { defineCommand, type OptionSpec } from '../command.ts';
import { commandLogger } from '../log.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const options: Record<string, OptionSpec> = {};
for (const [name, setting] of Object.entries(SETTINGS) as [SettingName, (typeof SETTINGS)[SettingName]][]) {
  if (BOOLEAN_SETTINGS.has(name)) continue;
  options[setting.flag.slice(2)] = {
    type: 'string',
    description: `${setting.env} (default ${setting.default || 'see README'})`,
  };
}
options['no-example'] = { type: 'boolean', description: 'Do not register the example model on a first start' };
options['auth'] = {
  type: 'boolean',
  description: 'Require a token on every route but the health probes (MODELPORT_AUTH; on by itself off loopback)',
};
options['insecure-no-auth'] = {
  type: 'boolean',
  description: 'Turn auth off on a non-loopback address (MODELPORT_INSECURE_NO_AUTH); the server warns on every start',
};

export const serverCommand = defineCommand({
  words: ['server'],
  usage:
    'server [--host H] [--port P] [--grpc-port P] [--home DIR] [--database-url URL] [--artifacts DIR|s3://...] [--no-example]',
  summary: 'Run the Modelport server (control plane, gateway and console)',
  args: [0, 0],
  options,
  async run({ options: given, io, env }) {
    const raw: RawSettings = settingsFromEnv(env);
    for (const [name, setting] of Object.entries(SETTINGS) as [SettingName, (typeof SETTINGS)[SettingName]][]) {
      const value = given[setting.flag.slice(2)];
      if (typeof value === 'string') raw[name] = value;
    }
    if (given['no-example'] === true) raw.example = 'false';
    if (given['auth'] === true) raw.auth = 'true';
    if (given['insecure-no-auth'] === true) raw.insecureNoAuth = 'true';
    const config = compileServerConfig(raw, env, process.cwd());

    // Loaded here, not at the top: the rest of the CLI never pays for the server's dependencies.
    const { startServer } = await import('../../server/index.ts');
    const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    const log = await commandLogger(io, env, config.logLevel);
    const server = await startServer(config, { log, version: pkg.version, examplesDir: `${REPO_ROOT}examples` });
    // Listening from here on: a SIGTERM that comes as soon as the banner is out (a supervisor's) is a graceful stop.
    const stopped = new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log.info('shutting down', { signal });
        server.close().then(resolve, resolve);
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });

    // The example may have been deployed on an earlier start (or deleted since): ask, rather than trust this start.
    const exampleDeployed = await server.deployments.get('default', 'fraud').then(
      () => true,
      () => false,
    );
    io.out(
      banner({
        url: server.url,
        grpcPort: server.grpcPort,
        seededNow: server.example !== undefined,
        exampleDeployed,
        row: await sampleRow(),
        auth: server.auth,
        web: { oidc: config.console.oidc !== undefined, allowedHosts: config.console.allowedHosts },
      }),
    );
    await stopped;
    return 0;
  },
});

/** The example's fraudulent sample row, for a curl line that works when pasted. */
async function sampleRow(): Promise<number[] | undefined> {
  try {
    const sample = JSON.parse(await readFile(`${REPO_ROOT}examples/fraud/sample-request.json`, 'utf8')) as {
      inputs: { data: number[] }[];
    };
    const data = sample.inputs[0]?.data ?? [];
    return data.slice(data.length - 30);
  } catch {
    return undefined;
  }
}

interface BannerAuth {
  enabled: boolean;
  insecure: boolean;
  adminToken: string | undefined;
  adminTokenFile: string;
}

interface BannerFacts {
  url: string;
  grpcPort: number | undefined;
  /** The example was registered and deployed on this start. */
  seededNow: boolean;
  /** A deployment named `fraud` exists (from this start or an earlier one). */
  exampleDeployed: boolean;
  row: number[] | undefined;
  auth: BannerAuth;
  web: { oidc: boolean; allowedHosts: readonly string[] };
}

export function banner({ url, grpcPort, seededNow, exampleDeployed, row, auth, web }: BannerFacts): string {
  const body = row
    ? `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,30],"data":[${row.join(',')}]}]}`
    : '{"inputs":[...]}';
  const grpc = grpcPort ? `   gRPC: ${url.replace(/^http:\/\//, '').replace(/:\d+$/, '')}:${grpcPort}` : '';
  const authHeader = auth.enabled ? ` -H "authorization: Bearer $(cat ${auth.adminTokenFile})"` : '';
  const security = auth.enabled
    ? [
        `  Auth:       on: every call but /v2/health/* needs a token (Authorization: Bearer <token>)`,
        ...(auth.adminToken
          ? [
              '  The server admin "admin" was created on this first start. Its token, shown only this once (also in',
              `  ${auth.adminTokenFile}, mode 0600):`,
              `    ${auth.adminToken}`,
              `  Use it: export MODELPORT_TOKEN=$(cat ${auth.adminTokenFile})   or   modelport login`,
            ]
          : [`  Admin token: ${auth.adminTokenFile} (if still there); create more with modelport tokens create`]),
      ]
    : auth.insecure
      ? [
          '  WARNING:    auth is OFF on a non-loopback address (--insecure-no-auth): anyone who reaches this port',
          '              can register code that runs on this machine. Drop the flag to require tokens.',
        ]
      : ['  Auth:       off (single-user mode on loopback; start with --auth to require tokens)'];
  const lines = [
    '',
    'Modelport is running',
    `  Console:    ${url}/${auth.enabled ? `   (sign in with a token${web.oidc ? ' or single sign-on' : ''})` : ''}`,
    `  API:        ${url}/api/v1   (OpenAPI: ${url}/api/v1/openapi.json)`,
    `  Inference:  ${url}/v2/models/<name>/infer${grpc}`,
    ...security,
    `  Hosts:      loopback names, IP addresses${web.allowedHosts.length ? `, ${web.allowedHosts.join(', ')}` : ''} (others: --allowed-hosts)`,
    '',
  ];
  if (exampleDeployed) {
    lines.push(
      `  The example model \`fraud\` is deployed as the deployment \`fraud\`${seededNow ? ' (registered on this first start)' : ''}. Try it:`,
      `  curl -s ${url}/v2/models/fraud/infer -H 'content-type: application/json'${authHeader} -d '${body}'`,
    );
  } else {
    lines.push(
      '  No example is deployed. Register a model and deploy it:',
      '  npx modelport models register NAME model.onnx && npx modelport deployments create NAME --model NAME --wait',
    );
  }
  return `${lines.join('\n')}\n\n`;
}
