/**
 * The secrets and tokens canary suite: a canary secret used by one deployment, and canary API tokens, are pushed
 * through everything a user can do with them (set, list, deploy, infer, export, rotate the key, mistakes with the
 * value in the body); then every place a leak could land is searched, in clear, base64 and hex: the server's log at
 * debug level, every response (bodies and headers, errors included), /metrics, the audit log when the server has
 * one, the database file (and its WAL), every other file in the home folder, and the environment of every process
 * (the server's own and each worker's /proc/<pid>/environ) except the workers of the one deployment that uses the
 * secret, where it must be present.
 *
 * Used by test/secrets-canary.e2e.test.ts and `npm run bench:security`.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelportClient } from '../../src/client/client.ts';
import type { TestServer } from '../support/server.ts';

export interface PlaceChecked {
  /** Where we looked (`log lines`, `responses`, `/proc/<pid>/environ of plain's worker`, ...). */
  place: string;
  /** How many items were searched there (lines, responses, bytes, processes). */
  items: number;
  /** The canaries found there: must be none. */
  leaks: string[];
}

export interface CanaryReport {
  checks: PlaceChecked[];
  /** The workers of the deployment that uses the secret, and whether each has it in its environment. */
  secretWorkers: { pid: number; hasSecret: boolean }[];
}

const forms = (value: string) => [
  value,
  Buffer.from(value).toString('base64'),
  Buffer.from(value).toString('base64url'),
  Buffer.from(value).toString('hex'),
];

/** Runs the scenario on a running --auth server with the example model registered (`fraud`), then searches. */
export async function runCanarySuite(t: TestServer): Promise<CanaryReport> {
  const adminToken = t.server.auth.adminToken!;
  const admin = new ModelportClient({ url: t.url, token: adminToken });
  const secret = `canary-secret-${randomBytes(16).toString('hex')}`;
  const responses: string[] = [];
  const record = async (res: Response) => {
    responses.push(`${res.status} ${JSON.stringify([...res.headers])} ${await res.text()}`);
  };
  const call = async (method: string, path: string, body?: unknown, token = adminToken) =>
    record(
      await fetch(`${t.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      }),
    );

  // Tokens: one made for a user, one forged with a valid shape; both must stay out of every place.
  await admin.createUser('canary-user');
  await admin.addMember('default', { kind: 'user', name: 'canary-user' }, 'editor');
  const userToken = (await admin.createToken({ name: 'canary', user: 'canary-user' })).token;
  const forged = `mp_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('base64url')}`;

  // The secret: set, listed, used by one deployment; mistakes that carry it in the body.
  await call('PUT', '/api/v1/projects/default/secrets/PARTNER_KEY', { value: secret });
  await call('GET', '/api/v1/projects/default/secrets');
  await call('PUT', '/api/v1/projects/default/secrets/bad-name', { value: secret });
  await call('PUT', '/api/v1/projects/default/secrets/PARTNER_KEY', { value: secret, extra: secret });
  await call('PUT', '/api/v1/projects/default/secrets/PARTNER_KEY', `{"value":"${secret}"`);
  await call('PUT', '/api/v1/projects/default/secrets/PARTNER_KEY', { value: secret }, userToken); // editor: 403
  await call('PUT', '/api/v1/projects/default/secrets/PARTNER_KEY', { value: secret }, forged); // 401
  const base = { traffic: [{ model: 'fraud@1', weight: 100 }], scaling: { minReplicas: 1, maxReplicas: 1 } };
  await admin.applyDeployment('with-secret', { ...base, secrets: [{ env: 'PARTNER_KEY', secret: 'PARTNER_KEY' }] });
  await admin.applyDeployment('plain', { ...base, env: { GREETING: 'hello' } });
  await admin.waitDeployment('with-secret', 120);
  await admin.waitDeployment('plain', 120);
  const row = JSON.stringify({
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: new Array(30).fill(0) }],
  });
  for (const name of ['with-secret', 'plain']) {
    await call('POST', `/v2/models/${name}/infer`, row, userToken);
    await call('POST', `/v2/models/${name}/infer`, `{"inputs":"${secret}"}`, userToken);
    await call('GET', `/api/v1/projects/default/deployments/${name}`);
    await call('GET', `/api/v1/projects/default/deployments/${name}/revisions`);
    for (const format of ['kserve', 'compose']) {
      await call('GET', `/api/v1/projects/default/deployments/${name}/export?format=${format}`);
    }
  }
  await call('POST', '/v2/models/plain/infer', row, forged);
  await call('GET', '/api/v1/whoami', undefined, userToken);
  await call('GET', '/api/v1/tokens?all=true');
  await call('POST', '/api/v1/secrets/rotate');
  await call('GET', '/api/v1/projects/default/secrets');
  await call('GET', '/metrics');
  await call('GET', '/api/v1/openapi.json');

  const canaries: [string, string[]][] = [
    ['the secret', forms(secret)],
    ["a user's token", forms(userToken)],
    ["the user token's secret part", forms(userToken.slice(20))],
    ['a forged token', forms(forged)],
    ["the server admin's token", [adminToken, adminToken.slice(20)]],
  ];
  const search = (place: string, texts: readonly string[], skip: string[] = []): PlaceChecked => {
    const leaks = new Set<string>();
    for (const text of texts) {
      for (const [name, variants] of canaries) {
        if (!skip.includes(name) && variants.some((v) => text.includes(v))) leaks.add(name);
      }
    }
    return { place, items: texts.length, leaks: [...leaks] };
  };

  const checks: PlaceChecked[] = [];
  checks.push(search('server log lines (debug level)', t.logText().split('\n')));
  // The admin token is in responses only where this suite sent it (request headers are not recorded).
  checks.push(search('responses (status, headers, body; errors included)', responses));
  const metrics = await (
    await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } })
  ).text();
  checks.push(search('/metrics', [metrics]));
  // The audit log (when the server keeps one): its entries as the API answers them.
  const audit = await fetch(`${t.url}/api/v1/audit?limit=1000`, { headers: { authorization: `Bearer ${adminToken}` } });
  if (audit.status !== 404) checks.push(search('the audit log (GET /api/v1/audit)', [await audit.text()]));

  // Files: the database (and its WAL) byte for byte, and every other file in the home folder. The server admin's
  // token is in <home>/admin-token by design (mode 0600), so that file may hold it.
  for (const file of await walk(t.home)) {
    const text = (await readFile(file)).toString('latin1');
    const name = file.slice(t.home.length + 1);
    const skip = name === 'admin-token' ? ["the server admin's token"] : [];
    const check = search(name.startsWith('modelport.db') ? `database file ${name}` : `home file ${name}`, [text], skip);
    check.items = text.length;
    checks.push(check);
  }

  // Processes: the secret is in the environment of with-secret's workers only.
  const workers = new Map<number, string>();
  for (const served of t.server.host.list()) {
    for (const w of served.pool.stats().workers) if (w.pid !== undefined) workers.set(w.pid, served.key);
  }
  const secretWorkers: { pid: number; hasSecret: boolean }[] = [];
  for (const pid of await descendants(process.pid)) {
    const environ = await readFile(`/proc/${pid}/environ`).catch(() => undefined);
    if (environ === undefined) continue;
    const key = workers.get(pid) ?? 'not a model worker';
    const text = environ.toString('latin1');
    if (key.includes('/with-secret/')) {
      secretWorkers.push({ pid, hasSecret: text.includes(`PARTNER_KEY=${secret}\0`) });
      checks.push(search(`environment of with-secret's worker ${pid} (tokens only)`, [text], ['the secret']));
    } else {
      checks.push(search(`environment of process ${pid} (${key})`, [text]));
    }
  }
  checks.push(
    search(`environment of the server process ${process.pid}`, [
      await readFile(`/proc/${process.pid}/environ`, 'latin1'),
    ]),
  );
  return { checks, secretWorkers };
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** Every process below `root` (children, grandchildren, ...), from /proc. */
async function descendants(root: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!Number.isFinite(ppid)) continue;
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of parents.get(queue.shift()!) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}
