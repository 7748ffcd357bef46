/**
 * The hostile suites' counts (issue 14, "Proof"), printed: path traversal (vectors x every name and path a user
 * gives: cases, refused, accepted inside the home, leaks, escapes), SSRF (loopback spellings x every outbound call:
 * cases, refused, sentinel hits), auth bypass (cases generated from the route table and the inference routes, over
 * REST and gRPC: routes covered, successes, server errors) and the secrets and tokens canary (places searched,
 * leaks, whether the one deployment that uses the secret has it). `npm run bench:security`; also written to
 * bench/out/security.json. The same suites run as assertions in test/hostile.e2e.test.ts,
 * test/auth-bypass.e2e.test.ts and test/secrets-canary.e2e.test.ts. Exits 1 when a leak, an escape, a hit, a case
 * that gets in or a canary found elsewhere is found.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { declaredRoutes } from '../src/api/routes/index.ts';
import { generateCases, prepareWorld, runCases } from '../test/hostile/auth-bypass.ts';
import { runPathTraversalSuite } from '../test/hostile/path-traversal.ts';
import { runCanarySuite } from '../test/hostile/secrets-canary.ts';
import { runSsrfSuite } from '../test/hostile/ssrf.ts';
import { REPO_ROOT, startTestServer } from '../test/support/server.ts';

// The canary deploys the example model: build it when this checkout has not yet.
if (!existsSync(`${REPO_ROOT}examples/fraud/model.onnx`)) {
  execFileSync(process.execPath, [`${REPO_ROOT}examples/fraud/build.ts`], { stdio: 'ignore' });
}

const started = performance.now();
const paths = await runPathTraversalSuite();
const ssrf = await runSsrfSuite();

const bypassServer = await startTestServer('embedded', { auth: 'true', example: 'true' });
const world = await prepareWorld(
  bypassServer.url,
  bypassServer.server.grpcPort!,
  bypassServer.server.auth.adminToken!,
  bypassServer.home,
);
const { cases, perRoute } = generateCases(world);
const results = await runCases(world, cases);
await bypassServer.close();
const successes = results.filter((r) => r.success);
const serverErrors = results.filter((r) =>
  r.case.kind === 'http' ? r.status >= 500 : r.status === 13 || r.status === 2,
);
const table = declaredRoutes();
const tableTargets = new Set(table.map((r) => `${r.method} /api/v1${r.path}`));
const otherTargets = [...perRoute.keys()].filter((k) => !tableTargets.has(k));

const canaryServer = await startTestServer('embedded', { auth: 'true', example: 'true' });
const canary = await runCanarySuite(canaryServer);
await canaryServer.close();
const leaks = canary.checks.filter((c) => c.leaks.length > 0);
const seconds = ((performance.now() - started) / 1000).toFixed(1);

const rows: [string, string | number][] = [
  ['path traversal: vectors', paths.vectors],
  ['path traversal: names and paths probed', paths.slots],
  ['path traversal: cases', paths.cases],
  ['path traversal: refused (4xx)', paths.refused],
  ['path traversal: accepted inside the home (2xx)', paths.accepted],
  ['path traversal: S3 unreachable (503)', paths.unavailable],
  ['path traversal: server errors', paths.serverErrors.length],
  ['path traversal: answers leaking a file outside the home', paths.leaks.length],
  ['path traversal: files written outside the home', paths.escapes.length],
  ['ssrf: loopback spellings', ssrf.spellings],
  ['ssrf: outbound calls probed', ssrf.paths.length],
  ['ssrf: cases', ssrf.cases],
  ['ssrf: refused', ssrf.refused],
  ['ssrf: sentinel hits', ssrf.sentinelHits],
  ['auth bypass: cases', results.length],
  ['auth bypass: REST cases', results.filter((r) => r.case.kind === 'http').length],
  ['auth bypass: gRPC cases', results.filter((r) => r.case.kind === 'grpc').length],
  [
    'auth bypass: route-table routes covered',
    `${[...perRoute.keys()].filter((k) => tableTargets.has(k)).length} of ${table.length}`,
  ],
  ['auth bypass: inference and other routes covered', otherTargets.length],
  [
    'auth bypass: fewest cases on one route-table route',
    Math.min(...[...tableTargets].map((k) => perRoute.get(k) ?? 0)),
  ],
  ['auth bypass: successes', successes.length],
  ['auth bypass: server errors (5xx, gRPC INTERNAL)', serverErrors.length],
  ['secrets canary: places searched', canary.checks.length],
  [
    'secrets canary: processes whose environment was read',
    canary.checks.filter((c) => c.place.startsWith('environment')).length,
  ],
  ['secrets canary: leaks', leaks.length],
  [
    'secrets canary: workers of the deployment using it that have it',
    `${canary.secretWorkers.filter((w) => w.hasSecret).length} of ${canary.secretWorkers.length}`,
  ],
  ['tokens canary: places with a token', leaks.filter((c) => c.leaks.some((l) => l.includes('token'))).length],
  ['seconds', seconds],
];
const width = Math.max(...rows.map(([k]) => k.length));
console.log(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n'));
for (const line of [...paths.leaks, ...paths.escapes, ...paths.serverErrors, ...ssrf.accepted])
  console.log(`  ! ${line}`);
for (const r of [...successes, ...serverErrors].slice(0, 50))
  console.log(`  ! ${r.case.target} [${r.case.label}] -> ${r.status}`);
for (const c of leaks) console.log(`  ! ${c.place}: ${c.leaks.join(', ')}`);
await mkdir(new URL('./out/', import.meta.url), { recursive: true });
await writeFile(
  new URL('./out/security.json', import.meta.url),
  `${JSON.stringify(
    {
      paths,
      ssrf,
      authBypass: {
        cases: results.length,
        successes: successes.map((r) => r.case),
        perRoute: Object.fromEntries(perRoute),
      },
      canary,
    },
    null,
    2,
  )}\n`,
);
const failed =
  paths.leaks.length +
    paths.escapes.length +
    ssrf.sentinelHits +
    ssrf.accepted.length +
    successes.length +
    leaks.length +
    canary.secretWorkers.filter((w) => !w.hasSecret).length >
  0;
process.exit(failed ? 1 : 0);
