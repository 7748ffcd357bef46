/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`, e.g. `node bench/serving.ts --profile`): the share of
 * sampled time per function (self time) and per source file, idle and GC listed apart, top `n` of each.
 *
 * Run: node bench/profile-summary.ts <file.cpuprofile> [n, default 25]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

const [file, n = '25'] = process.argv.slice(2);
if (!file) throw new Error('usage: node bench/profile-summary.ts <file.cpuprofile> [n]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[] };

const hits = new Map<number, number>();
for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
const total = profile.samples.length;
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
for (const node of profile.nodes) {
  const count = hits.get(node.id) ?? 0;
  if (count === 0) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const short = url.replace(/^file:\/\/.*?\/(src|node_modules|bench)\//, '$1/') || '(native)';
  const fn = `${functionName || '(anonymous)'} ${short}:${lineNumber + 1}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + count);
  const where = short.startsWith('node:') ? short : short.replace(/^(node_modules\/(@[^/]+\/)?[^/]+).*$/, '$1');
  byFile.set(where, (byFile.get(where) ?? 0) + count);
}
const top = (map: Map<string, number>) =>
  [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, Number(n))
    .map(([name, count]) => `${((100 * count) / total).toFixed(1).padStart(5)}%  ${name}`)
    .join('\n');
console.log(`${total} samples\n\nself time by function:\n${top(byFunction)}\n\nself time by file:\n${top(byFile)}`);
