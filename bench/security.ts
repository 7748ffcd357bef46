/**
 * The hostile suites' counts (issue 14, "Proof"), printed: path traversal (vectors x every name and path a user
 * gives: cases, refused, accepted inside the home, leaks, escapes) and SSRF (loopback spellings x every outbound
 * call: cases, refused, sentinel hits). `npm run bench:security`; also written to bench/out/security.json. The
 * same suites run as assertions in test/hostile.e2e.test.ts. Exits 1 when a leak, an escape or a hit is found.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { runPathTraversalSuite } from '../test/hostile/path-traversal.ts';
import { runSsrfSuite } from '../test/hostile/ssrf.ts';

const started = performance.now();
const paths = await runPathTraversalSuite();
const ssrf = await runSsrfSuite();
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
  ['seconds', seconds],
];
const width = Math.max(...rows.map(([k]) => k.length));
console.log(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n'));
for (const line of [...paths.leaks, ...paths.escapes, ...paths.serverErrors, ...ssrf.accepted])
  console.log(`  ! ${line}`);
await mkdir(new URL('./out/', import.meta.url), { recursive: true });
await writeFile(new URL('./out/security.json', import.meta.url), `${JSON.stringify({ paths, ssrf }, null, 2)}\n`);
const failed = paths.leaks.length + paths.escapes.length + ssrf.sentinelHits + ssrf.accepted.length > 0;
process.exit(failed ? 1 : 0);
