/**
 * `modelport gc`: removes content nothing names, from the one artifact store models and data share.
 *
 * Mark: every blob a model version, a batch job (input, output, rejects), a payload log file or a live data commit
 * names is kept. A
 * data commit is live when a branch or a tag reaches it (through parents), when a model version's lineage pins
 * it, or when it is younger than the grace period; older unreachable commits (left by deleting a branch or
 * moving one back) are deleted with their rows. Sweep: a blob that nothing names is deleted only if it was
 * written, and last claimed by a writer, before the sweep started minus the grace period; the claim check and the
 * delete run under `BlobGuard.exclusive`, so a commit or registration in progress never loses a blob.
 *
 * A writer must land what it stored within the grace period (default one hour); every Modelport writer lands
 * right after its upload completes.
 */
import type { Kysely } from 'kysely';
import type { ArtifactStore, Database } from '../store/index.ts';
import type { BlobGuard } from './blob-guard.ts';

export interface GcOptions {
  /** Spare anything written or claimed this recently (default 1 hour). */
  graceMs?: number;
  /** Report what would go without deleting anything. */
  dryRun?: boolean;
}

export interface GcReport {
  dryRun: boolean;
  graceSeconds: number;
  blobsScanned: number;
  blobsKept: number;
  blobsDeleted: number;
  bytesFreed: number;
  /** Unreachable data commits whose rows were deleted. */
  commitsDeleted: number;
  /** Nothing names these, but they are within the grace period. */
  blobsTooYoung: number;
  elapsedMs: number;
}

export interface GarbageCollectorDeps {
  db: Kysely<Database>;
  artifacts: ArtifactStore;
  guard: BlobGuard;
  /** Reads a commit tree's file digests (the data service's tree format). */
  treeFiles: (treeSha256: string) => Promise<Iterable<string>>;
  now?: () => Date;
}

const DEFAULT_GRACE_MS = 60 * 60_000;
const BATCH = 50;

export async function collectGarbage(deps: GarbageCollectorDeps, options: GcOptions = {}): Promise<GcReport> {
  const started = performance.now();
  const { db, artifacts, guard } = deps;
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const dryRun = options.dryRun ?? false;
  const start = (deps.now ?? (() => new Date()))();
  const cutoff = new Date(start.getTime() - graceMs);
  const cutoffIso = cutoff.toISOString();

  // Mark.
  const keep = new Set<string>();
  for (const row of await db.selectFrom('model_versions').select(['artifact_sha256', 'data_commit']).execute()) {
    keep.add(row.artifact_sha256);
  }
  for (const job of await db.selectFrom('jobs').select(['spec', 'output_sha256', 'rejects_sha256']).execute()) {
    if (job.output_sha256) keep.add(job.output_sha256);
    if (job.rejects_sha256) keep.add(job.rejects_sha256);
    const artifact = (JSON.parse(job.spec) as { input?: { artifact?: unknown } }).input?.artifact;
    if (typeof artifact === 'string') keep.add(artifact);
  }
  // The payload log's Parquet files (src/sinks/store-sink.ts): kept until retention or a purge removes their row.
  for (const f of await db.selectFrom('payload_files').select('sha256').execute()) keep.add(f.sha256);
  // Pipelines: each revision's packed code, each step's outputs and log.
  for (const r of await db.selectFrom('pipeline_revisions').select('code_sha256').execute()) {
    if (r.code_sha256) keep.add(r.code_sha256);
  }
  for (const s of await db.selectFrom('pipeline_steps').select(['outputs', 'log_sha256']).execute()) {
    for (const file of JSON.parse(s.outputs) as { sha256?: unknown }[]) {
      if (typeof file.sha256 === 'string') keep.add(file.sha256);
    }
    if (s.log_sha256) keep.add(s.log_sha256);
  }
  const { live, dead } = await liveCommits(db, cutoffIso);
  const trees = new Set(live.map((c) => c.tree));
  for (const tree of trees) {
    keep.add(tree);
    for (const sha256 of await deps.treeFiles(tree)) keep.add(sha256);
  }
  let commitsDeleted = 0;
  if (!dryRun && dead.length > 0) {
    await db.transaction().execute(async (trx) => {
      for (const commit of dead) {
        // Re-checked inside the transaction: a branch or tag may have been moved onto it since the mark.
        const named =
          (await trx
            .selectFrom('data_branches')
            .select('name')
            .where('repo_id', '=', commit.repo)
            .where('head', '=', commit.id)
            .executeTakeFirst()) ??
          (await trx
            .selectFrom('data_tags')
            .select('name')
            .where('repo_id', '=', commit.repo)
            .where('commit_id', '=', commit.id)
            .executeTakeFirst());
        if (named) continue;
        const deleted = await trx
          .deleteFrom('data_commits')
          .where('repo_id', '=', commit.repo)
          .where('id', '=', commit.id)
          .executeTakeFirst();
        commitsDeleted += Number(deleted.numDeletedRows);
      }
    });
  }

  // Sweep.
  let blobsScanned = 0;
  let blobsTooYoung = 0;
  const candidates: { sha256: string; size: number }[] = [];
  for await (const blob of artifacts.list()) {
    blobsScanned++;
    if (keep.has(blob.sha256)) continue;
    if (blob.modified.getTime() >= cutoff.getTime()) {
      blobsTooYoung++;
      continue;
    }
    candidates.push({ sha256: blob.sha256, size: blob.size });
  }
  let blobsDeleted = 0;
  let bytesFreed = 0;
  for (let i = 0; i < candidates.length; i += BATCH) {
    const batch = candidates.slice(i, i + BATCH);
    await guard.exclusive(async (trx) => {
      const claimed = new Set(
        (
          await trx
            .selectFrom('blob_touches')
            .select('sha256')
            .where(
              'sha256',
              'in',
              batch.map((b) => b.sha256),
            )
            .where('touched_at', '>=', cutoffIso)
            .execute()
        ).map((r) => r.sha256),
      );
      for (const blob of batch) {
        if (claimed.has(blob.sha256)) {
          blobsTooYoung++;
          continue;
        }
        if (!dryRun) await artifacts.delete(blob.sha256);
        blobsDeleted++;
        bytesFreed += blob.size;
      }
    });
  }
  if (!dryRun) await db.deleteFrom('blob_touches').where('touched_at', '<', cutoffIso).execute();
  return {
    dryRun,
    graceSeconds: Math.round(graceMs / 1000),
    blobsScanned,
    blobsKept: blobsScanned - blobsDeleted - blobsTooYoung,
    blobsDeleted,
    bytesFreed,
    commitsDeleted,
    blobsTooYoung,
    elapsedMs: Math.round(performance.now() - started),
  };
}

interface CommitNode {
  repo: string;
  id: string;
  tree: string;
}

/** Commits reachable from branches, tags and model lineage, plus young ones; the rest are dead. */
async function liveCommits(
  db: Kysely<Database>,
  cutoffIso: string,
): Promise<{ live: CommitNode[]; dead: CommitNode[] }> {
  const commits = await db
    .selectFrom('data_commits')
    .select(['repo_id', 'id', 'parents', 'tree_sha256', 'created_at'])
    .execute();
  const key = (repo: string, id: string) => `${repo} ${id}`;
  const byKey = new Map(commits.map((c) => [key(c.repo_id, c.id), c]));
  const roots: string[] = [];
  for (const b of await db.selectFrom('data_branches').select(['repo_id', 'head']).execute()) {
    if (b.head !== null) roots.push(key(b.repo_id, b.head));
  }
  for (const t of await db.selectFrom('data_tags').select(['repo_id', 'commit_id']).execute())
    roots.push(key(t.repo_id, t.commit_id));
  // Model lineage names `repo@<commit id>` within the model's project.
  const pins = await db
    .selectFrom('model_versions as v')
    .innerJoin('models as m', 'm.id', 'v.model_id')
    .innerJoin('data_repos as r', (join) => join.onRef('r.project_id', '=', 'm.project_id'))
    .select(['r.id as repo_id', 'r.name as repo', 'v.data_commit'])
    .where('v.data_commit', 'is not', null)
    .execute();
  for (const pin of pins) {
    const [repo, id] = (pin.data_commit ?? '').split('@');
    if (repo === pin.repo && id) roots.push(key(pin.repo_id, id));
  }
  for (const c of commits) if (c.created_at >= cutoffIso) roots.push(key(c.repo_id, c.id));
  const reached = new Set<string>();
  while (roots.length > 0) {
    const k = roots.pop()!;
    if (reached.has(k)) continue;
    const commit = byKey.get(k);
    if (!commit) continue;
    reached.add(k);
    for (const parent of JSON.parse(commit.parents) as string[]) roots.push(key(commit.repo_id, parent));
  }
  const live: CommitNode[] = [];
  const dead: CommitNode[] = [];
  for (const c of commits) {
    (reached.has(key(c.repo_id, c.id)) ? live : dead).push({ repo: c.repo_id, id: c.id, tree: c.tree_sha256 });
  }
  return { live, dead };
}
