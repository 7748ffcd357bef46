/**
 * The path-traversal suite (issue 14, "Proof"): every name and path a user gives (model, version, alias, project,
 * deployment, job, secret, model type, inference model name, console path, import URL path, js archive entry
 * names, symlink targets and manifest entries) gets every vector in `VECTORS`, raw and percent-encoded where a
 * URL carries it. The server's home sits next to an `outside/` folder holding a canary file.
 *
 * Pass: no answer contains the canary or /etc/passwd, and no file appeared or changed outside the home (the
 * home's parent and the temp folder are compared before and after).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { trainFraudModel } from '../../examples/fraud/train.ts';
import { ModelportClient } from '../../src/client/client.ts';
import { packTar } from '../../src/runtimes/js/tar-writer.ts';
import { startTestServer } from '../support/server.ts';

export interface SuiteReport {
  vectors: number;
  slots: number;
  cases: number;
  /** Answered 4xx (refused). */
  refused: number;
  /** Answered 2xx/3xx: accepted without leaving the home (a console path gets index.html, say). */
  accepted: number;
  /** Answered 503 (an S3 location this server cannot reach) or 501 (no S3 settings): nothing read locally. */
  unavailable: number;
  /** Answered another 5xx, or no answer: not an escape, but listed to be looked at. */
  serverErrors: string[];
  /** Answers that held the canary or /etc/passwd. Must be empty. */
  leaks: string[];
  /** Files that appeared or changed outside the home. Must be empty. */
  escapes: string[];
}

/** Builds the vectors for a run whose canary lives at `<parent>/outside/secret.txt` and whose home is `<parent>/home`. */
export function traversalVectors(parent: string, marker: string): string[] {
  const outside = join(parent, 'outside');
  return [
    '..',
    '../',
    '../..',
    '../../..',
    '../outside/secret.txt',
    '../../outside/secret.txt',
    '../../../outside/secret.txt',
    '../../../../../../../../etc/passwd',
    `../../../../../../../../tmp/${marker}`,
    `../../${marker}`,
    '..%2f..%2foutside%2fsecret.txt',
    '%2e%2e',
    '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '%2e%2e/%2e%2e/etc/passwd',
    '..%252f..%252fetc%252fpasswd',
    '%252e%252e%252f',
    '..\\..\\outside\\secret.txt',
    '..%5c..%5coutside%5csecret.txt',
    '/etc/passwd',
    '//etc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '....//....//etc/passwd',
    '..;/..;/etc/passwd',
    '.',
    './',
    '.%00',
    '..%00',
    '%00',
    `${marker}%00.onnx`,
    '%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd',
    '..%c0%af..%c0%afetc%c0%afpasswd',
    '%e0%80%ae%e0%80%ae/',
    '\uff0e\uff0e\uff0f\uff0e\uff0e\uff0fetc\uff0fpasswd',
    '\u2025/\u2025/etc/passwd',
    'file:///etc/passwd',
    '~/.ssh/id_rsa',
    '$HOME/.bashrc',
    '${HOME}',
    'C:\\Windows\\win.ini',
    'c:/windows/win.ini',
    '\\\\server\\share\\x',
    'a/../../outside/secret.txt',
    'fraud/../../../outside/secret.txt',
    'x/./../../..',
    `${outside}/secret.txt`,
    `${outside}/${marker}`,
    `${parent}/home/../outside/secret.txt`,
    '%2f',
    '.../...//',
    ' ../',
    '../ ',
    '..\t/..',
    '..\n/..',
    'con',
    'nul.onnx',
    '-rf',
    `${marker}/../../../outside/secret.txt`,
  ];
}

interface Answer {
  status: number;
  body: string;
}

/** One HTTP request with the path sent exactly as given (fetch would normalise `..` away). */
function send(
  base: URL,
  method: string,
  path: string,
  body?: Buffer | string,
  type = 'application/json',
): Promise<Answer> {
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
    try {
      const req = request(
        {
          host: base.hostname,
          port: base.port,
          method,
          path,
          headers: payload ? { 'content-type': type, 'content-length': payload.length } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('latin1') }));
          res.on('error', () => resolve({ status: 0, body: '' }));
        },
      );
      req.on('error', (e) => resolve({ status: 0, body: String(e) }));
      req.end(payload);
    } catch (error) {
      // The client refuses to send it (a control character in the path): nothing reached the server.
      resolve({ status: 400, body: String(error) });
    }
  });
}

/** A URL path segment carrying `v`: as typed (when a URL can carry it) and percent-encoded. */
function segments(v: string): string[] {
  const encoded = encodeURIComponent(v);
  return /^[\x21-\x7e]+$/.test(v) && v !== encoded ? [v, encoded] : [encoded];
}

type Slot = { name: string; cases(v: string): [method: string, path: string, body?: Buffer | string, type?: string][] };

function slots(onnx: Buffer): Slot[] {
  const spec = { traffic: [{ model: 'fraud', weight: 100 }] };
  const inPath = (
    name: string,
    method: string,
    make: (s: string) => string,
    body?: Buffer | string,
    type?: string,
  ): Slot => ({
    name,
    cases: (v) => segments(v).map((s) => [method, make(s), body, type]),
  });
  const inBody = (name: string, method: string, path: string, make: (v: string) => unknown): Slot => ({
    name,
    cases: (v) => [[method, path, JSON.stringify(make(v))]],
  });
  const jsArchive = (entries: Parameters<typeof packTar>[0]) => Buffer.from(gzipSync(packTar(entries)));
  const manifest = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      signature: {
        inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 1] }],
        outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }],
      },
      ...extra,
    });
  const inArchive = (name: string, make: (v: string) => Buffer): Slot => ({
    name,
    cases: (v) => {
      let archive: Buffer;
      try {
        archive = make(v);
      } catch {
        return []; // longer than a tar name field holds: no archive can carry it
      }
      return [
        ['POST', '/api/v1/projects/default/models/archive-probe/versions?format=js', archive, 'application/gzip'],
      ];
    },
  });
  const model = 'export async function predict(batch) { return batch; }\n';
  return [
    inPath('model name (show)', 'GET', (s) => `/api/v1/projects/default/models/${s}`),
    inPath('model name (delete)', 'DELETE', (s) => `/api/v1/projects/default/models/${s}`),
    inPath(
      'model name (register)',
      'POST',
      (s) => `/api/v1/projects/default/models/${s}/versions`,
      onnx,
      'application/octet-stream',
    ),
    inPath(
      'model name (import)',
      'POST',
      (s) => `/api/v1/projects/default/models/${s}/import`,
      '{"url":"ftp://example/m.onnx"}',
    ),
    inPath('version (artifact download)', 'GET', (s) => `/api/v1/projects/default/models/fraud/versions/${s}/artifact`),
    inPath('alias', 'PUT', (s) => `/api/v1/projects/default/models/fraud/aliases/${s}`, '{"version":1}'),
    inPath('project (path)', 'GET', (s) => `/api/v1/projects/${s}/models`),
    inPath(
      'project (register)',
      'POST',
      (s) => `/api/v1/projects/${s}/models/fraud/versions`,
      onnx,
      'application/octet-stream',
    ),
    inPath(
      'deployment name (apply)',
      'PUT',
      (s) => `/api/v1/projects/default/deployments/${s}`,
      JSON.stringify({ spec }),
    ),
    inPath(
      'deployment name (compose export)',
      'GET',
      (s) => `/api/v1/projects/default/deployments/${s}/export?format=compose`,
    ),
    inPath('job id (output)', 'GET', (s) => `/api/v1/projects/default/jobs/${s}/output`),
    inPath('secret name', 'PUT', (s) => `/api/v1/projects/default/secrets/${s}`, '{"value":"x"}'),
    inPath('model type', 'GET', (s) => `/api/v1/modeltypes/${s}`),
    inPath('inference model name', 'POST', (s) => `/v2/models/${s}/infer`, '{"inputs":[]}'),
    inPath('console path', 'GET', (s) => `/${s}`),
    inPath('console asset', 'GET', (s) => `/assets/${s}`),
    inBody('project (create)', 'POST', '/api/v1/projects', (v) => ({ name: v })),
    inBody('deployment name (create)', 'POST', '/api/v1/projects/default/deployments', (v) => ({ name: v, spec })),
    inBody('traffic model', 'PUT', '/api/v1/projects/default/deployments/probe', (v) => ({
      spec: { traffic: [{ model: v, weight: 100 }] },
    })),
    inBody('job model', 'POST', '/api/v1/projects/default/jobs', (v) => ({
      model: v,
      input: { artifact: 'a'.repeat(64) },
    })),
    inBody('job input artifact', 'POST', '/api/v1/projects/default/jobs', (v) => ({
      model: 'fraud',
      input: { artifact: v },
    })),
    inBody('job input url', 'POST', '/api/v1/projects/default/jobs', (v) => ({
      model: 'fraud',
      input: { url: `s3://bucket/${v}` },
    })),
    inBody('import url path', 'POST', '/api/v1/projects/default/models/imported/import', (v) => ({
      url: `s3://bucket/${v}`,
    })),
    inBody('import file url', 'POST', '/api/v1/projects/default/models/imported/import', (v) => ({
      url: `file://${v}`,
    })),
    // These three carry a manifest without a signature: extraction (where the path rules act) runs, and the
    // archive is refused after it, so no model module is loaded for the harmless names.
    inArchive('archive entry name', (v) =>
      jsArchive([
        { name: 'modelport.json', data: '{}' },
        { name: 'index.js', data: model },
        { name: v, data: 'x' },
      ]),
    ),
    inArchive('archive symlink target', (v) =>
      jsArchive([
        { name: 'modelport.json', data: '{}' },
        { name: 'index.js', data: model },
        { name: 'link', type: '2', linkname: v },
      ]),
    ),
    inArchive('archive hard link target', (v) =>
      jsArchive([
        { name: 'modelport.json', data: '{}' },
        { name: 'index.js', data: model },
        { name: 'hard', type: '1', linkname: v },
      ]),
    ),
    inArchive('manifest entry', (v) =>
      jsArchive([
        { name: 'modelport.json', data: manifest({ entry: v }) },
        { name: 'index.js', data: model },
      ]),
    ),
    inArchive('package.json main', (v) =>
      jsArchive([
        { name: 'modelport.json', data: manifest() },
        { name: 'package.json', data: JSON.stringify({ main: v }) },
        { name: 'index.js', data: model },
      ]),
    ),
  ];
}

/** Every file under `dir` (depth-limited) with its size and mtime, skipping `skip`. */
async function snapshot(dir: string, skip: readonly string[], depth = 4): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string, left: number) => {
    const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const path = join(d, e.name);
      if (skip.some((s) => path === s || path.startsWith(`${s}/`))) continue;
      if (e.isDirectory()) {
        out.set(path, 'dir');
        if (left > 0) await walk(path, left - 1);
      } else {
        const info = await stat(path).catch(() => undefined);
        out.set(path, info ? `${info.size}:${info.mtimeMs}` : 'gone');
      }
    }
  };
  await walk(dir, depth);
  return out;
}

export async function runPathTraversalSuite(): Promise<SuiteReport> {
  const parent = await mkdtemp(join(tmpdir(), 'modelport-traversal-'));
  const marker = `mp-escape-${randomBytes(4).toString('hex')}`;
  const canary = `traversal-canary-${randomBytes(8).toString('hex')}`;
  await mkdir(join(parent, 'outside'));
  await writeFile(join(parent, 'outside', 'secret.txt'), canary);
  const home = join(parent, 'home');
  const server = await startTestServer('embedded', { home });
  try {
    const onnx = Buffer.from(trainFraudModel({ seed: 1, rows: 4000 }).onnx);
    await new ModelportClient({ url: server.url }).registerVersion('fraud', onnx);
    // Other suites and tests write to the temp folder at the same time: only the home's siblings and our marker count.
    const before = await snapshot(parent, [home]);
    const vectors = traversalVectors(parent, marker);
    const table = slots(onnx);
    const base = new URL(server.url);
    const report: SuiteReport = {
      vectors: vectors.length,
      slots: table.length,
      cases: 0,
      refused: 0,
      accepted: 0,
      unavailable: 0,
      serverErrors: [],
      leaks: [],
      escapes: [],
    };
    for (const slot of table) {
      for (const v of vectors) {
        for (const [method, path, body, type] of slot.cases(v)) {
          const answer = await send(base, method, path, body, type);
          report.cases++;
          const what = `${slot.name}: ${method} ${path.slice(0, 120)}`;
          // 503: a backing service is down; 501 not_configured: the server lacks the setting (S3 for s3:// URLs) and
          // says which. Both are deliberate answers, not crashes.
          if (answer.status === 503 || answer.status === 501) report.unavailable++;
          else if (answer.status >= 500 || answer.status === 0) report.serverErrors.push(`${what} -> ${answer.status}`);
          else if (answer.status >= 400) report.refused++;
          else report.accepted++;
          if (answer.body.includes(canary) || /root:x?:0:0:/.test(answer.body)) report.leaks.push(what);
        }
      }
    }
    const after = await snapshot(parent, [home]);
    for (const [path, state] of after) if (before.get(path) !== state) report.escapes.push(`${path} (${state})`);
    for (const path of before.keys()) if (!after.has(path)) report.escapes.push(`${path} (removed)`);
    if ((await readFile(join(parent, 'outside', 'secret.txt'), 'utf8')) !== canary)
      report.escapes.push('the canary changed');
    for (const dir of [tmpdir(), '/tmp']) {
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (name.includes(marker)) report.escapes.push(join(dir, name));
      }
    }
    return report;
  } finally {
    await server.close();
    await rm(parent, { recursive: true, force: true });
  }
}
