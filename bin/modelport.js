#!/usr/bin/env node
// Entry point of the `modelport` command. Modelport runs its TypeScript sources directly on Node 24 (type
// stripping), which the project installs as the npm package `node`.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(
    `modelport needs Node.js 24 or later (this is ${process.version}); run it through npm (npm start, npx modelport) so the project's Node 24 is used\n`,
  );
  process.exit(1);
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2), process.env);
