/** The steps' graph: a topological order (Kahn's, stable in spec order), or the cycle that prevents one. */

export interface DagNode {
  name: string;
  needs: readonly string[];
}

export function topologicalOrder(nodes: readonly DagNode[]): { order: string[] } | { cycle: string[] } {
  const pending = new Map(nodes.map((n) => [n.name, new Set(n.needs)]));
  const order: string[] = [];
  while (pending.size > 0) {
    const ready = [...pending].filter(([, needs]) => [...needs].every((need) => !pending.has(need)));
    if (ready.length === 0) return { cycle: findCycle(pending) };
    for (const [name] of ready) {
      order.push(name);
      pending.delete(name);
    }
  }
  return { order };
}

/** A cycle among the nodes left (each of which needs another one left). */
function findCycle(pending: Map<string, Set<string>>): string[] {
  const start = pending.keys().next().value as string;
  const path: string[] = [];
  let at = start;
  while (!path.includes(at)) {
    path.push(at);
    at = [...pending.get(at)!].find((need) => pending.has(need))!;
  }
  return path.slice(path.indexOf(at));
}

/** Every step `name` needs, directly or not. */
export function ancestors(nodes: readonly DagNode[], name: string): Set<string> {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const out = new Set<string>();
  const visit = (n: string) => {
    for (const need of byName.get(n)?.needs ?? []) {
      if (!out.has(need)) {
        out.add(need);
        visit(need);
      }
    }
  };
  visit(name);
  return out;
}
