#!/usr/bin/env -S node --max-semi-space-size=8 --no-allocation-site-pretenuring --heap-growing-percent=20
// Entry point of the `modelport` command. Modelport runs its TypeScript sources directly on Node 24 (type
// stripping), which the project installs as the npm package `node`.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(
    `modelport needs Node.js 24 or later (this is ${process.version}); run it through npm (npm start, npx modelport) so the project's Node 24 is used\n`,
  );
  process.exit(1);
}
// Node's compile cache keeps the stripped and compiled sources between runs: a start after the first skips the type
// stripper (about 15 MB of memory in every Modelport process, the model workers included; see src/core/child-env.ts),
// and `server` fills the cache in a child on a first start (below) so that even then the long-lived gateway skips it.
// The flags above (and in `npm start`) keep the gateway's memory down under load without making it slower
// (bench/serving.ts, bench/memory.ts): the semi-space flag caps V8's young generation at 8 MB (Node 24 lets it grow to
// 64 MB per semi-space on a large machine, which doubled the gateway's memory); without allocation-site pretenuring,
// V8 no longer decides, after one burst where a request's objects outlived a scavenge, to allocate every later
// request's objects of that site (split batch outputs, say) in the old generation, which then grew to 4x its live
// size between full collections (peak RSS at 64 connections 260-270 -> 165-170 MB). The growing factor of 1.2 (V8
// picks up to 4 when collections are fast) starts a full collection before the old generation doubles under load,
// which frees the request buffers promoted there too: peak 165-170 -> 145-150 MB, for a mark-compact every few
// seconds at 64 connections (about 0.2 us of CPU per request, within the noise of CPU per request; for gRPC too since
// its server stopped keeping every call alive until a full collection, see GATEWAY_FLAGS in bench/load.ts).
const { enableCompileCache, getCompileCacheDir } = await import('node:module');
enableCompileCache();
if (process.argv[2] === 'server') await warmCompileCacheIfCold();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2), process.env);

/**
 * A first start (a new machine, a container's fresh /tmp) finds the compile cache empty for these flags: `server`
 * then has a short-lived child, with the same flags, load what the server loads and write the cache, before this
 * process loads any of it. Otherwise this process would load Node's type stripper to compile its sources and hold
 * it for its life (the gateway 141 MB against 119-127 MB started from the cache). Nothing here may import
 * TypeScript: that would load the stripper in this process. The workers fill their own (src/serving/workers).
 */
async function warmCompileCacheIfCold() {
  const { readdirSync } = await import('node:fs');
  const { dirname } = await import('node:path');
  const { spawnSync } = await import('node:child_process');
  const folder = getCompileCacheDir();
  if (folder === undefined) return;
  try {
    if (readdirSync(folder).length > 0) return;
  } catch {
    // no folder yet: cold
  }
  const load = ['../src/cli/main.ts', '../src/server/index.ts']
    .map((file) => `await import(${JSON.stringify(new URL(file, import.meta.url).href)});`)
    .join(' ');
  spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '--eval', load], {
    env: { ...process.env, NODE_COMPILE_CACHE: dirname(folder) },
    stdio: 'ignore',
    timeout: 60_000,
  });
}
