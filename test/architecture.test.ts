/**
 * The rules of docs/architecture.md, checked on every import in src/ (a simple specifier parser: static
 * `import`/`export ... from`, side-effect `import '...'` and dynamic `import('...')`):
 *
 * 1. No import cycle between rooms (top-level folders of src/), counting the code the server runs (tests and their
 *    support files sit above every room and are left out).
 * 2. A file imports another room only through its `index.ts`. Tests and test support may also import another
 *    room's `*.fixture.ts` and `*.conformance.ts` (test support is public to tests). Inside a room, files import
 *    each other freely, nested folders included.
 * 3. Nothing in src/ imports test/, examples/ or bench/.
 * 4. Code the server runs imports only node: built-ins, its own files and `dependencies` (a devDependency is for
 *    tests, fixtures and benchmarks; type-only imports are erased and allowed).
 *
 * ALLOWED lists each remaining violation, with why; it may only shrink: an entry that no longer occurs fails too.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SRC = join(ROOT, 'src');

/**
 * Violations that other work still owns, as `importer -> imported` (paths below src/). Remove a line when its
 * import goes; never add one without a reason beside it.
 */
const ALLOWED = new Set<string>([
  // The backends split (plug-in backends, DeploymentService/JobService/startServer split, server helpers moved
  // into src/http) rewrites these files; they move to the rooms' index.ts files with it. backends/ and
  // deployments/ get their index.ts with that work.
  // backends/image imports the server's HTTP helpers while the server imports backends (the backends helper
  // moves server/http-server.ts into src/http).
  'cycle: api -> backends -> server -> api',
  'cycle: backends -> server -> backends',
  'backends/image/gateway.ts -> server/http-server.ts',
  'backends/image/serve-model.ts -> server/http-server.ts',
  // api/ routes importing deployments/ and backends/, which get their index.ts with the backends split.
  'api/routes/deployment-metrics.ts -> deployments/deployment-service.ts',
  'api/routes/deployments.ts -> backends/export.ts',
  'api/routes/deployments.ts -> deployments/deployment-service.ts',
  'api/routes/deployments.ts -> deployments/spec.ts',
  // backends/ (the backends-as-plug-ins split: implementations move to backends/<name>/, the contract to deployments/).
  'backends/backend-fixtures.ts -> deployments/spec.ts',
  'backends/backend-fixtures.ts -> deployments/types.ts',
  'backends/backend-fixtures.ts -> registry/types.ts',
  'backends/compose/compose-backend.test.ts -> deployments/spec.ts',
  'backends/compose/compose-backend.ts -> core/errors.ts',
  'backends/compose/compose-backend.ts -> deployments/backend.ts',
  'backends/compose/compose-backend.ts -> deployments/local-backend.ts',
  'backends/compose/compose-renderer.ts -> core/errors.ts',
  'backends/compose/compose-renderer.ts -> core/units.ts',
  'backends/export.ts -> core/errors.ts',
  'backends/export.ts -> deployments/deployment-service.ts',
  'backends/image/fetch-models.ts -> core/config.ts',
  'backends/image/fetch-models.ts -> core/errors.ts',
  'backends/image/fetch-models.ts -> core/names.ts',
  'backends/image/fetch-models.ts -> store/artifacts/index.ts',
  'backends/image/gateway.ts -> core/errors.ts',
  'backends/image/gateway.ts -> deployments/deployment-resolver.ts',
  'backends/image/gateway.ts -> deployments/shadow.ts',
  'backends/image/gateway.ts -> deployments/traffic.ts',
  'backends/image/gateway.ts -> metrics/prometheus.ts',
  'backends/image/serve-model.ts -> core/config.ts',
  'backends/image/serve-model.ts -> core/errors.ts',
  'backends/image/serve-model.ts -> metrics/prometheus.ts',
  'backends/image/serve-model.ts -> registry/model-inspector.ts',
  'backends/image/serve-model.ts -> registry/types.ts',
  'backends/image/serve-model.ts -> serving/gateway-service.ts',
  'backends/image/serve-model.ts -> serving/grpc/index.ts',
  'backends/image/serve-model.ts -> serving/model-host.ts',
  'backends/image/serve-model.ts -> serving/rest-handler.ts',
  'backends/image/serve-model.ts -> serving/serving-metrics.ts',
  'backends/image/serve-model.ts -> store/artifacts/index.ts',
  'backends/kubernetes/kubernetes-backend.test.ts -> core/errors.ts',
  'backends/kubernetes/kubernetes-backend.test.ts -> deployments/spec.ts',
  'backends/kubernetes/kubernetes-backend.ts -> core/errors.ts',
  'backends/kubernetes/kubernetes-backend.ts -> deployments/backend.ts',
  'backends/kubernetes/kubernetes-backend.ts -> deployments/local-backend.ts',
  'backends/kubernetes/kubernetes-renderer.ts -> core/errors.ts',
  'backends/kubernetes/kubernetes-renderer.ts -> core/units.ts',
  'backends/render-input.ts -> core/config.ts',
  'backends/render-input.ts -> core/errors.ts',
  'backends/render-input.ts -> core/units.ts',
  'backends/render-input.ts -> deployments/spec.ts',
  'backends/render-input.ts -> deployments/types.ts',
  'backends/render-input.ts -> registry/types.ts',
  'backends/schema-validation.ts -> core/errors.ts',
  // cli/ commands that load backends/ and deployments/ (no index.ts until those splits land).
  'cli/commands/deployments.ts -> deployments/types.ts',
  'cli/commands/export.ts -> backends/compose/compose-backend.ts',
  'cli/commands/export.ts -> backends/export.ts',
  'cli/commands/image.ts -> backends/image/fetch-models.ts',
  'cli/commands/image.ts -> backends/image/gateway.ts',
  'cli/commands/image.ts -> backends/image/serve-model.ts',
  'cli/commands/score.ts -> deployments/batch-target.ts',
  'cli/commands/score.ts -> deployments/types.ts',
  'cli/commands/uninstall.ts -> backends/kubernetes/kube-api.ts',
  'cli/commands/uninstall.ts -> backends/kubernetes/kubernetes-backend.ts',
  // deployments/ (DeploymentService split and the Backend contract).
  'deployments/deployment-resolver.ts -> serving/gateway-service.ts',
  'deployments/deployment-resolver.ts -> serving/inference-service.ts',
  'deployments/deployment-service.ts -> core/errors.ts',
  'deployments/deployment-service.ts -> core/names.ts',
  'deployments/deployment-service.ts -> registry/model-registry.ts',
  'deployments/deployment-service.ts -> registry/types.ts',
  'deployments/deployment-service.ts -> store/metadata/schema.ts',
  'deployments/local-backend.ts -> core/errors.ts',
  'deployments/local-backend.ts -> core/tensor.ts',
  'deployments/local-backend.ts -> core/tensor.ts',
  'deployments/local-backend.ts -> core/units.ts',
  'deployments/local-backend.ts -> metrics/prometheus.ts',
  'deployments/local-backend.ts -> registry/model-registry.ts',
  'deployments/local-backend.ts -> registry/types.ts',
  'deployments/local-backend.ts -> serving/model-host.ts',
  'deployments/shadow.ts -> core/tensor.ts',
  'deployments/spec.test.ts -> core/errors.ts',
  'deployments/spec.ts -> core/errors.ts',
  'deployments/spec.ts -> core/names.ts',
  'deployments/spec.ts -> core/units.ts',
  'deployments/traffic.ts -> core/errors.ts',
  // jobs/job-service.ts (the JobService split).
  'jobs/job-service.ts -> core/errors.ts',
  'jobs/job-service.ts -> core/names.ts',
  'jobs/job-service.ts -> registry/model-registry.ts',
  'jobs/job-service.ts -> store/artifacts/index.ts',
  'jobs/job-service.ts -> store/metadata/index.ts',
  'jobs/job-service.ts -> store/metadata/schema.ts',
  // server/server.ts and helpers (startServer split into buildApp + listen; http-server.ts moves to src/http).
  'server/example.ts -> deployments/deployment-service.ts',
  'server/server.ts -> api/authorizer.ts',
  'server/server.ts -> api/openapi.ts',
  'server/server.ts -> api/router.ts',
  'server/server.ts -> api/routes/deployment-metrics.ts',
  'server/server.ts -> api/routes/deployments.ts',
  'server/server.ts -> api/routes/jobs.ts',
  'server/server.ts -> api/routes/models.ts',
  'server/server.ts -> api/routes/modeltypes.ts',
  'server/server.ts -> api/routes/secrets.ts',
  'server/server.ts -> api/routes/system.ts',
  'server/server.ts -> backends/compose/compose-backend.ts',
  'server/server.ts -> backends/export.ts',
  'server/server.ts -> backends/kubernetes/kube-api.ts',
  'server/server.ts -> backends/kubernetes/kubernetes-backend.ts',
  'server/server.ts -> backends/schema-validation.ts',
  'server/server.ts -> core/config.ts',
  'server/server.ts -> deployments/deployment-resolver.ts',
  'server/server.ts -> deployments/deployment-service.ts',
  'server/server.ts -> deployments/local-backend.ts',
  'server/server.ts -> metrics/prometheus.ts',
  'server/server.ts -> observability/deployment-metrics-sampler.ts',
  'server/server.ts -> registry/model-inspector.ts',
  'server/server.ts -> registry/model-registry.ts',
  'server/server.ts -> serving/gateway-service.ts',
  'server/server.ts -> serving/grpc/index.ts',
  'server/server.ts -> serving/model-host.ts',
  'server/server.ts -> serving/registry-resolver.ts',
  'server/server.ts -> serving/rest-handler.ts',
  'server/server.ts -> serving/serving-metrics.ts',
  'server/server.ts -> store/artifacts/index.ts',
  'server/server.ts -> store/metadata/index.ts',
]);

function walk(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

interface Import {
  specifier: string;
  typeOnly: boolean;
}

const STATIC = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?'([^']+)'/gm;
const DYNAMIC = /\bimport\(\s*'([^']+)'\s*\)/g;

/** Import specifiers of a file; comments are removed first so examples in them do not count. */
export function importsOf(text: string): Import[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found: Import[] = [];
  for (const m of code.matchAll(STATIC)) {
    if (m[1] === 'export' && !/\sfrom\s/.test(m[0])) continue;
    found.push({ specifier: m[3]!, typeOnly: m[2] !== undefined });
  }
  for (const m of code.matchAll(DYNAMIC)) found.push({ specifier: m[1]!, typeOnly: false });
  return found;
}

const isTest = (path: string) => path.endsWith('.test.ts');
const isSupport = (path: string) => path.endsWith('.fixture.ts') || path.endsWith('.conformance.ts');
const roomOf = (path: string) => path.split('/')[0]!;
const posix = (path: string) => path.split(sep).join('/');

const files = walk(SRC).map((abs) => ({ abs, path: posix(relative(SRC, abs)), text: readFileSync(abs, 'utf8') }));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

const edges: Edge[] = [];
const outside: string[] = [];
const packages: { from: string; name: string; typeOnly: boolean }[] = [];
for (const file of files) {
  for (const { specifier, typeOnly } of importsOf(file.text)) {
    if (specifier.startsWith('.')) {
      const target = posix(relative(SRC, resolve(dirname(file.abs), specifier)));
      if (target.startsWith('..'))
        outside.push(`${file.path} -> ${posix(relative(ROOT, resolve(dirname(file.abs), specifier)))}`);
      else edges.push({ from: file.path, to: target, typeOnly });
    } else if (!specifier.startsWith('node:')) {
      const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
      packages.push({ from: file.path, name, typeOnly });
    }
  }
}
const crossRoom = edges.filter((e) => e.to.includes('/') && roomOf(e.from) !== roomOf(e.to));
const used = new Set<string>();

/** Cycles between rooms in the code the server runs, each as `a -> b -> ... -> a`, smallest room first. */
function roomCycles(): string[] {
  const graph = new Map<string, Set<string>>();
  for (const e of crossRoom) {
    if (isTest(e.from) || isSupport(e.from)) continue;
    if (!graph.has(roomOf(e.from))) graph.set(roomOf(e.from), new Set());
    graph.get(roomOf(e.from))!.add(roomOf(e.to));
  }
  const cycles = new Set<string>();
  const visit = (node: string, path: string[]) => {
    for (const next of graph.get(node) ?? []) {
      const at = path.indexOf(next);
      if (at >= 0) {
        const loop = path.slice(at);
        const start = loop.indexOf([...loop].sort()[0]!);
        const rotated = [...loop.slice(start), ...loop.slice(0, start)];
        cycles.add(`cycle: ${[...rotated, rotated[0]].join(' -> ')}`);
      } else visit(next, [...path, next]);
    }
  };
  for (const room of graph.keys()) visit(room, [room]);
  return [...cycles].sort();
}

describe('architecture (docs/architecture.md)', () => {
  test('the import parser sees static, type-only, re-export, side-effect and dynamic imports, not comments', () => {
    const found = importsOf(
      [
        "import { a } from './a.ts';",
        "import type { B } from '../b/index.ts';",
        "export { c } from './c.ts';",
        'export const x = 1;',
        "import './side.ts';",
        "const m = await import('../m/index.ts');",
        "// import { z } from '../z/z.ts';",
        "/** Example: `await import('../y/y.ts')` */",
        'import {\n  d,\n  e,\n} from "pkg-with-double-quotes-is-not-project-style";',
      ].join('\n'),
    );
    assert.deepEqual(found, [
      { specifier: './a.ts', typeOnly: false },
      { specifier: '../b/index.ts', typeOnly: true },
      { specifier: './c.ts', typeOnly: false },
      { specifier: './side.ts', typeOnly: false },
      { specifier: '../m/index.ts', typeOnly: false },
    ]);
  });

  test('no import cycle between rooms', () => {
    const cycles = roomCycles().filter((cycle) => {
      if (!ALLOWED.has(cycle)) return true;
      used.add(cycle);
      return false;
    });
    assert.deepEqual(cycles, [], 'break each cycle by moving the shared piece down into a leaf room');
  });

  test('other rooms are imported through their index.ts (tests may also use fixtures and conformance suites)', () => {
    const deep = crossRoom
      .filter((e) => e.to !== `${roomOf(e.to)}/index.ts`)
      .filter((e) => !((isTest(e.from) || isSupport(e.from)) && isSupport(e.to)))
      .map((e) => `${e.from} -> ${e.to}`)
      .filter((line) => {
        if (!ALLOWED.has(line)) return true;
        used.add(line);
        return false;
      });
    assert.deepEqual(deep, [], "import the room's index.ts, exporting the name there if it is missing");
  });

  test('src imports nothing from test/, examples/ or bench/', () => {
    assert.deepEqual(outside, [], 'move the test to test/, or the helper into src as a *.fixture.ts');
  });

  test('code the server runs imports only dependencies (devDependencies are for tests, fixtures, benchmarks)', () => {
    const dev = packages
      .filter((p) => !p.typeOnly && !isTest(p.from) && !isSupport(p.from))
      .filter((p) => !(p.name in pkg.dependencies))
      .map((p) => `${p.from} -> ${p.name}${p.name in pkg.devDependencies ? ' (a devDependency)' : ' (not declared)'}`);
    assert.deepEqual(dev, []);
  });

  test('every allow-list entry still occurs (the list only shrinks)', () => {
    assert.deepEqual(
      [...ALLOWED].filter((entry) => !used.has(entry)),
      [],
      'remove the entries that no longer occur',
    );
  });
});
