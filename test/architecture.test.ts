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
 * Violations still allowed, as `importer -> imported` (paths below src/), each with its reason. Remove a line when
 * its import goes; never add one without a reason beside it.
 */
const ALLOWED = new Set<string>([
  // The CLI loads one command's backend lazily (`await import(...)`), so that `modelport serve-model` in an image
  // does not load the Kubernetes and compose renderers, and no other command pays for any backend. Through
  // backends/index.ts every backend would load. These go when backends/ grows per-command entry points.
  'cli/commands/export.ts -> backends/compose/compose-backend.ts',
  'cli/commands/image.ts -> backends/image/fetch-models.ts',
  'cli/commands/image.ts -> backends/image/gateway/index.ts',
  'cli/commands/image.ts -> backends/image/serve-model.ts',
  'cli/commands/uninstall.ts -> backends/kubernetes/kube-api.ts',
  'cli/commands/uninstall.ts -> backends/kubernetes/kubernetes-backend.ts',
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
