/** The lineage graph as the API, the client, the CLI and the console see it. */

/**
 * What a node stands for. `deployment` is one revision of a deployment; `arm` a traffic arm of a revision (an
 * untagged target is `primary`, else its tag; `shadow`); `step` a pipeline step (a `gate` step carries the
 * policy's verdict); `profile` the profile of one tabular file of a commit; `predictions` a summary of the logged
 * predictions of a revision's arm; `scan` a scan's result (filled once scans land: see `LineageSources.scans`).
 */
export const NODE_KINDS = [
  'prediction',
  'predictions',
  'deployment',
  'arm',
  'version',
  'run',
  'step',
  'commit',
  'profile',
  'scan',
] as const;
export type NodeKind = (typeof NODE_KINDS)[number];

export interface LineageNode {
  /** Stable within a graph: `<kind>:<key>` (`version:fraud@2`, `commit:transactions@<id>`). */
  id: string;
  kind: NodeKind;
  /** One line for a person: `fraud@2`, `fraud-train #1`, `transactions@4f2a91c0e1b2`. */
  label: string;
  /** A state or verdict when the node has one: a run's or step's state, `passed`/`failed` for a gate, `ready`. */
  state: string | null;
  /** When it happened (created, started, arrived). */
  time: string | null;
  /** The console page that shows it (a path under the console's root), or null. */
  link: string | null;
  /** A few facts, flat: metrics, weights, row counts, the gate's explanation. */
  detail: Record<string, string | number | boolean | null>;
}

/** `from` made or fed `to`: data flows along the edges (commit -> run -> version -> arm -> revision -> prediction). */
export interface LineageEdge {
  from: string;
  to: string;
  /** `triggered`, `trained on`, `ran`, `registered`, `serves in`, `arm of`, `answered`, `profiled`, `scanned`. */
  relation: string;
}

export type Direction = 'up' | 'down' | 'both';

export interface LineageGraph {
  project: string;
  /** What was asked, and the node it resolved to. */
  subject: { query: string; kind: NodeKind; node: string };
  direction: Direction;
  nodes: LineageNode[];
  edges: LineageEdge[];
  /** True when a list was cut at its limit (a commit that reached more runs or revisions than shown). */
  truncated: boolean;
}
