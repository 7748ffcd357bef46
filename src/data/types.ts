/** The nouns of data repositories, as the API, the client, the CLI and the console see them. */

export interface DataRepo {
  project: string;
  name: string;
  description: string;
  defaultBranch: string;
  createdBy: string;
  createdAt: string;
  branches: number;
  tags: number;
}

export interface DataCommit {
  repo: string;
  /** sha256 of (tree, parents, branch, author, message, created): see commit-id.ts. */
  id: string;
  parents: string[];
  tree: string;
  branch: string;
  message: string;
  author: string;
  createdAt: string;
  files: number;
  size: number;
  /** Against the first parent. */
  changes: { added: number; changed: number; removed: number };
}

export interface Branch {
  name: string;
  /** null until the first commit. */
  head: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface Tag {
  name: string;
  commit: string;
  createdBy: string;
  createdAt: string;
}

export interface TreeEntry {
  path: string;
  type: 'file' | 'folder';
  /** A file's size, or the total size of the files below a folder. */
  size: number;
  sha256?: string;
  /** Files below a folder. */
  files?: number;
}

export interface DiffEntry {
  path: string;
  size: number;
  sha256: string;
  /** For changed files: the size and digest at `from`. */
  oldSize?: number;
  oldSha256?: string;
}

export interface CommitDiff {
  repo: string;
  from: string | null;
  to: string;
  added: DiffEntry[];
  removed: DiffEntry[];
  changed: DiffEntry[];
  totals: { added: number; removed: number; changed: number; bytesAdded: number; bytesRemoved: number };
  /** True when the lists were cut at `limit` entries each (the totals still count everything). */
  truncated: boolean;
}

/** The outcome of a put or delete. */
export interface CommitResult {
  commit: DataCommit;
  /** False when the change left the tree as it was: no new commit, `commit` is the branch head. */
  created: boolean;
  /** How many times the commit was rebased onto a branch head that moved meanwhile (see data-service.ts). */
  rebased: number;
}

export type TabularFormat = 'csv' | 'tsv' | 'jsonl' | 'parquet';

export interface HistogramBin {
  /** Lower bound (inclusive). */
  lo: number;
  /** Upper bound (exclusive, inclusive for the last bin). */
  hi: number;
  count: number;
}

export interface ColumnProfile {
  name: string;
  /** The DuckDB type: BIGINT, DOUBLE, VARCHAR, DATE, ... */
  type: string;
  nulls: number;
  /** Approximate (HyperLogLog). */
  distinct: number;
  min: string | number | null;
  max: string | number | null;
  mean: number | null;
  stddev: number | null;
  /** Approximate quantiles p01, p05, p25, p50, p75, p95, p99 for numeric columns. */
  quantiles: Record<string, number> | null;
  /** Equal-width bins over [min, max] for numeric columns. */
  histogram: HistogramBin[] | null;
  /** The most frequent values (up to 10) for text and boolean columns. */
  top: { value: string; count: number }[] | null;
  /**
   * What drift against this file needs, so a scan never re-reads it: src/stats' NumericReference or
   * CategoricalReference (docs/metrics.md, "Drift references"). Absent in profiles made before it was added.
   */
  drift?: DriftSummary | null;
}

/** The same shapes as src/stats' NumericReference and CategoricalReference (data does not import stats). */
export type DriftSummary =
  | {
      kind: 'numeric';
      /** Non-null values. */
      n: number;
      nulls: number;
      /** Inner edges of the reference's decile bins (distinct); bin k holds edges[k-1] < x <= edges[k]. */
      edges: number[];
      /** edges.length + 1 exact counts. */
      counts: number[];
      /** Quantiles at k / 100, k = 0..100, of a reservoir sample of 8192 values; the minimum and maximum exact. */
      quantiles: number[];
    }
  | {
      kind: 'categorical';
      n: number;
      nulls: number;
      /** The 100 most frequent values and their counts. */
      counts: Record<string, number>;
      /** Rows in the other values. */
      other: number;
    };

export interface DataProfile {
  format: TabularFormat;
  rows: number;
  columns: ColumnProfile[];
  /** Milliseconds DuckDB took. */
  elapsedMs: number;
}

/** A file's profile as stored: computed in the background after its commit lands. */
export interface FileProfile {
  repo: string;
  commit: string;
  path: string;
  sha256: string;
  format: TabularFormat;
  state: 'pending' | 'ready' | 'failed';
  profile: DataProfile | null;
  /** Why the profile is missing (a malformed CSV names the line). */
  error: string | null;
  updatedAt: string;
}

export interface DataEvent {
  id: number;
  type: string;
  subject: string;
  payload: Record<string, unknown>;
  createdAt: string;
}
