/**
 * The gateway's routes file (`base/gateway/routes.json`, written by the compose renderer): its schema and the
 * checks that name the field at fault and the fix.
 */
import { z } from 'zod';
import { ModelportError } from '../../../core/index.ts';

const HEADER = /^[a-z0-9-]{1,64}$/i;
const NAME = /^[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?$/;
const URL_FIX = 'the service URL, such as http://s-fraud-v1:8080';

const modelField = z
  .string({ error: 'must be the model name its service serves (a string)' })
  .regex(NAME, { error: 'must be a model name: 1-63 lowercase letters, digits, ".", "_" or "-"' });
const versionField = z
  .number({ error: 'must be a version number' })
  .int({ error: 'must be a whole number' })
  .positive({ error: 'must be 1 or more' });
const percentField = z
  .number({ error: 'must be a number from 0 to 100' })
  .min(0, { error: 'must be from 0 to 100' })
  .max(100, { error: 'must be from 0 to 100' });
const urlField = z.string({ error: `must be ${URL_FIX}` });
const headerField = z
  .string({ error: 'must be a header name' })
  .regex(HEADER, { error: 'must be a header name of letters, digits and "-" (at most 64)' });

const TargetSchema = z.strictObject({
  model: modelField,
  version: versionField,
  weight: percentField,
  tag: z.string({ error: 'must be a string' }).regex(NAME, { error: 'must be a tag such as canary' }).optional(),
  url: urlField,
});

const ShadowSchema = z.strictObject({ model: modelField, version: versionField, percent: percentField, url: urlField });

const DeploymentSchema = z.strictObject({
  name: z.string({ error: 'must be the deployment name' }).regex(NAME, {
    error: 'must be a deployment name: 1-63 lowercase letters, digits, ".", "_" or "-"',
  }),
  revision: z
    .number({ error: 'must be the revision number' })
    .int({ error: 'must be a whole number' })
    .nonnegative({ error: 'must be 0 or more' }),
  modelIdHeader: headerField.default('model-id'),
  stickyHeader: headerField.optional(),
  traffic: z.array(TargetSchema, { error: 'must be a list of targets' }).min(1, { error: 'must list a target' }),
  shadow: ShadowSchema.optional(),
});

const RoutesSchema = z.strictObject({
  deployments: z
    .array(DeploymentSchema, { error: 'must be a list of deployments' })
    .min(1, { error: 'must list a deployment' }),
});

/** `base/gateway/routes.json`, as the compose renderer writes it. */
export type GatewayRoutes = z.input<typeof RoutesSchema>;
export type ParsedRoutes = z.output<typeof RoutesSchema>;
export type ParsedDeployment = ParsedRoutes['deployments'][number];

const routesError = (source: string, field: string, message: string) =>
  new ModelportError(
    'invalid_config',
    `${source}: ${field}: ${message} (regenerate it with 'modelport export <deployment> --format compose', or fix the field)`,
    { field },
  );

/** Checks the file's contents; errors name the field (`deployments[0].traffic[1].weight`) and the fix. */
export function parseRoutes(text: string, source = 'routes.json'): ParsedRoutes {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw routesError(source, '(file)', `is not JSON (${(error as Error).message})`);
  }
  const result = RoutesSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
    if (issue.code === 'unrecognized_keys') {
      throw routesError(source, `${path ? `${path}.` : ''}${issue.keys[0]}`, 'unknown field; remove it');
    }
    throw routesError(source, path || '(file)', issue.message);
  }
  const routes = result.data;
  const names = new Set<string>();
  routes.deployments.forEach((d, i) => {
    const at = `deployments[${i}]`;
    if (names.has(d.name)) throw routesError(source, `${at}.name`, `'${d.name}' is listed twice; keep one`);
    names.add(d.name);
    const sum = d.traffic.reduce((n, t) => n + t.weight, 0);
    if (Math.abs(sum - 100) > 1e-6) {
      throw routesError(source, `${at}.traffic`, `the weights add up to ${sum}; make them add up to 100`);
    }
    const tags = new Set<string>();
    d.traffic.forEach((t, j) => {
      checkUrl(source, `${at}.traffic[${j}].url`, t.url);
      if (t.tag === undefined) return;
      if (tags.has(t.tag)) throw routesError(source, `${at}.traffic[${j}].tag`, `'${t.tag}' tags two targets`);
      tags.add(t.tag);
    });
    if (d.shadow) checkUrl(source, `${at}.shadow.url`, d.shadow.url);
  });
  return routes;
}

function checkUrl(source: string, field: string, value: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {}
  const ok =
    url !== undefined &&
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.hostname !== '' &&
    url.username === '' &&
    url.password === '' &&
    url.pathname === '/' &&
    url.search === '' &&
    url.hash === '';
  if (!ok) throw routesError(source, field, `'${value.slice(0, 100)}' is not ${URL_FIX} (http or https, no path)`);
}
