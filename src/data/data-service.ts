/**
 * Data repositories: versioned files with commits, branches and tags, over the metadata store (rows) and the
 * artifact store (file contents and trees, content-addressed, shared with models).
 *
 * Ordering rules that keep the two stores consistent after a crash at any point:
 * - every file, then the tree that names them, is stored before the commit row that names the tree, so a commit
 *   never points at missing content (a crash leaves at most unnamed blobs, which `modelport gc` removes);
 * - each blob is claimed (`BlobGuard.protect`) before it is stored or reused, so a concurrent gc spares it;
 * - the commit row, the branch move, the pending profiles and the `data.commit` event are one transaction.
 *
 * Concurrency on a branch is optimistic: a commit is built on the head it read and lands only if the head is
 * still that commit (compare-and-swap on `data_branches.head`). When another commit landed meanwhile, the change
 * is rebased onto the new head if the two touched different paths (neither names a path equal to, inside or
 * containing one of the other's), and refused with `conflict` otherwise; both racers' commits are kept either
 * way. A caller that passes `expect` (the head it based its change on) gets `conflict` instead of a rebase.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Kysely, Selectable } from 'kysely';
import { checkName, isWithin, ModelportError, notFound, parseRepoRef, parseRevision, showPath } from '../core/index.ts';
import type { BlobGuard } from '../gc/index.ts';
import {
  type ArtifactStore,
  type Database,
  type DataCommitsTable,
  type MetadataStore,
  projectIdOf,
} from '../store/index.ts';
import { commitId } from './commit-id.ts';
import { appendEvent, listEvents } from './events.ts';
import {
  applyChanges,
  decodeTree,
  diffTrees,
  EMPTY_TREE,
  encodeTree,
  type FileRef,
  listTree,
  type Tree,
  type TreeChanges,
  treeTotals,
} from './tree.ts';
import type {
  Branch,
  CommitDiff,
  CommitResult,
  DataCommit,
  DataEvent,
  DataRepo,
  FileProfile,
  TabularFormat,
  Tag,
  TreeEntry,
} from './types.ts';

/** The background profiler the service hands new tabular files to (profile-worker.ts). */
export interface ProfileScheduler {
  /** Called after a commit with pending profiles lands. */
  kick(): void;
}

export interface DataServiceDeps {
  store: Pick<MetadataStore, 'db' | 'dialect' | 'transaction'>;
  artifacts: ArtifactStore;
  guard: BlobGuard;
  profiles?: ProfileScheduler;
  now?: () => Date;
  /** Parsed trees kept in memory, counted in files (default 2,000,000). */
  treeCacheFiles?: number;
}

export interface CommitInput {
  /** Default: the repository's default branch. */
  branch?: string | undefined;
  puts?: TreeChanges['puts'];
  deletes?: TreeChanges['deletes'];
  message: string;
  author: string;
  /** The head the change was based on: refuse with `conflict` rather than rebase if the branch moved. */
  expect?: string | undefined;
}

const MAX_REBASES = 20;
const MAX_MESSAGE = 4096;
const TABULAR: Record<string, TabularFormat> = {
  csv: 'csv',
  tsv: 'tsv',
  jsonl: 'jsonl',
  ndjson: 'jsonl',
  parquet: 'parquet',
};

/** The format a path's extension names, or undefined for files that are not profiled. */
export function tabularFormat(path: string): TabularFormat | undefined {
  const dot = path.lastIndexOf('.');
  return dot < 0 ? undefined : TABULAR[path.slice(dot + 1).toLowerCase()];
}

type CommitRow = Selectable<DataCommitsTable>;

interface RepoRow {
  id: string;
  name: string;
  default_branch: string;
}

export class DataService {
  readonly #db: Kysely<Database>;
  readonly #store: DataServiceDeps['store'];
  readonly #artifacts: ArtifactStore;
  readonly #guard: BlobGuard;
  #profiles: ProfileScheduler | undefined;
  readonly #now: () => Date;
  readonly #trees = new Map<string, Tree>();
  readonly #treeCacheFiles: number;
  #cachedFiles = 0;
  readonly #commitListeners: (() => void)[] = [];

  constructor(deps: DataServiceDeps) {
    this.#store = deps.store;
    this.#db = deps.store.db;
    this.#artifacts = deps.artifacts;
    this.#guard = deps.guard;
    this.#profiles = deps.profiles;
    this.#now = deps.now ?? (() => new Date());
    this.#treeCacheFiles = deps.treeCacheFiles ?? 2_000_000;
  }

  /** Told after every commit lands (its event is stored): consumers of events look now rather than at their next poll. */
  onCommit(listener: () => void): void {
    this.#commitListeners.push(listener);
  }

  /** Late wiring: the profiler reads through this service. */
  setProfiles(profiles: ProfileScheduler): void {
    this.#profiles = profiles;
  }

  get artifacts(): ArtifactStore {
    return this.#artifacts;
  }

  // Repositories

  async listRepos(project: string): Promise<DataRepo[]> {
    const projectId = await this.#projectId(project);
    const rows = await this.#db
      .selectFrom('data_repos as r')
      .select((eb) => [
        'r.name',
        'r.description',
        'r.default_branch',
        'r.created_by',
        'r.created_at',
        eb
          .selectFrom('data_branches as b')
          .whereRef('b.repo_id', '=', 'r.id')
          .select(eb.fn.countAll<number>().as('n'))
          .as('branches'),
        eb
          .selectFrom('data_tags as t')
          .whereRef('t.repo_id', '=', 'r.id')
          .select(eb.fn.countAll<number>().as('n'))
          .as('tags'),
      ])
      .where('r.project_id', '=', projectId)
      .orderBy('r.name')
      .execute();
    return rows.map((r) => ({
      project,
      name: r.name,
      description: r.description,
      defaultBranch: r.default_branch,
      createdBy: r.created_by,
      createdAt: r.created_at,
      branches: Number(r.branches ?? 0),
      tags: Number(r.tags ?? 0),
    }));
  }

  async getRepo(project: string, name: string): Promise<DataRepo> {
    await this.#repo(project, name);
    return (await this.listRepos(project)).find((r) => r.name === name)!;
  }

  async createRepo(
    project: string,
    name: string,
    options: { description?: string | undefined; defaultBranch?: string | undefined; author: string },
  ): Promise<DataRepo> {
    checkName(name, 'name');
    const branch = checkName(options.defaultBranch ?? 'main', 'defaultBranch');
    const projectId = await this.#projectId(project);
    const now = this.#stamp();
    const id = randomUUID();
    await this.#store.transaction(async (trx) => {
      const inserted = await trx
        .insertInto('data_repos')
        .values({
          id,
          project_id: projectId,
          name,
          description: options.description ?? '',
          default_branch: branch,
          created_by: options.author,
          created_at: now,
        })
        .onConflict((oc) => oc.columns(['project_id', 'name']).doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!inserted) {
        throw new ModelportError('already_exists', `data repository '${name}' already exists in project '${project}'`, {
          field: 'name',
        });
      }
      await trx
        .insertInto('data_branches')
        .values({ repo_id: id, name: branch, head: null, created_at: now, updated_at: now })
        .execute();
    });
    return this.getRepo(project, name);
  }

  /** Deletes the repository's rows; its contents stay until `modelport gc` finds nothing else names them. */
  async deleteRepo(project: string, name: string): Promise<void> {
    const repo = await this.#repo(project, name);
    await this.#store.transaction(async (trx) => {
      // Children first: SQLite enforces foreign keys only when asked, so do not rely on the cascade.
      for (const table of ['data_tags', 'data_branches', 'data_commits'] as const) {
        await trx.deleteFrom(table).where('repo_id', '=', repo.id).execute();
      }
      await trx.deleteFrom('data_repos').where('id', '=', repo.id).execute();
    });
  }

  // Branches and tags

  async listBranches(project: string, repoName: string): Promise<Branch[]> {
    const repo = await this.#repo(project, repoName);
    const rows = await this.#db
      .selectFrom('data_branches')
      .selectAll()
      .where('repo_id', '=', repo.id)
      .orderBy('name')
      .execute();
    return rows.map((r) => ({ name: r.name, head: r.head, createdAt: r.created_at, updatedAt: r.updated_at }));
  }

  /** A new branch at `from` (a commit reference; default the default branch's head). */
  async createBranch(project: string, repoName: string, name: string, from?: string): Promise<Branch> {
    checkName(name, 'name');
    const repo = await this.#repo(project, repoName);
    const head =
      from === undefined
        ? await this.#branchHead(repo, repo.default_branch)
        : (await this.#resolve(repo, from, 'from')).id;
    const now = this.#stamp();
    const inserted = await this.#db
      .insertInto('data_branches')
      .values({ repo_id: repo.id, name, head, created_at: now, updated_at: now })
      .onConflict((oc) => oc.columns(['repo_id', 'name']).doNothing())
      .returning('name')
      .executeTakeFirst();
    if (!inserted) {
      throw new ModelportError('already_exists', `branch '${name}' already exists in '${repoName}'; reset it instead`, {
        field: 'name',
      });
    }
    return { name, head, createdAt: now, updatedAt: now };
  }

  /** Moves a branch to any commit of the repository (`expect`: only if its head is still that commit). */
  async resetBranch(project: string, repoName: string, name: string, to: string, expect?: string): Promise<Branch> {
    const repo = await this.#repo(project, repoName);
    const target = await this.#resolve(repo, to, 'to');
    const current = await this.#branchRow(repo, name);
    if (expect !== undefined && current.head !== expect) throw this.#moved(name, current.head, expect);
    const now = this.#stamp();
    const moved = await this.#db
      .updateTable('data_branches')
      .set({ head: target.id, updated_at: now })
      .where('repo_id', '=', repo.id)
      .where('name', '=', name)
      .where('head', current.head === null ? 'is' : '=', current.head)
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) !== 1) {
      throw new ModelportError('conflict', `branch '${name}' moved while it was being reset; try again`, {
        field: 'branch',
      });
    }
    return { name, head: target.id, createdAt: current.created_at, updatedAt: now };
  }

  async deleteBranch(project: string, repoName: string, name: string): Promise<void> {
    const repo = await this.#repo(project, repoName);
    if (name === repo.default_branch) {
      throw new ModelportError(
        'conflict',
        `'${name}' is the default branch of '${repoName}'; it cannot be deleted (delete the repository instead)`,
        { field: 'branch' },
      );
    }
    await this.#branchRow(repo, name);
    await this.#db.deleteFrom('data_branches').where('repo_id', '=', repo.id).where('name', '=', name).execute();
  }

  async listTags(project: string, repoName: string): Promise<Tag[]> {
    const repo = await this.#repo(project, repoName);
    const rows = await this.#db
      .selectFrom('data_tags')
      .selectAll()
      .where('repo_id', '=', repo.id)
      .orderBy('name')
      .execute();
    return rows.map((r) => ({ name: r.name, commit: r.commit_id, createdBy: r.created_by, createdAt: r.created_at }));
  }

  async createTag(project: string, repoName: string, name: string, ref: string, author: string): Promise<Tag> {
    checkName(name, 'name');
    const repo = await this.#repo(project, repoName);
    const branch = await this.#db
      .selectFrom('data_branches')
      .select('name')
      .where('repo_id', '=', repo.id)
      .where('name', '=', name)
      .executeTakeFirst();
    if (branch) {
      throw new ModelportError('already_exists', `'${name}' is a branch of '${repoName}'; give the tag another name`, {
        field: 'name',
      });
    }
    const commit = await this.#resolve(repo, ref, 'commit');
    const now = this.#stamp();
    const inserted = await this.#db
      .insertInto('data_tags')
      .values({ repo_id: repo.id, name, commit_id: commit.id, created_by: author, created_at: now })
      .onConflict((oc) => oc.columns(['repo_id', 'name']).doNothing())
      .returning('name')
      .executeTakeFirst();
    if (!inserted) {
      throw new ModelportError('already_exists', `tag '${name}' already exists in '${repoName}'; tags never move`, {
        field: 'name',
      });
    }
    return { name, commit: commit.id, createdBy: author, createdAt: now };
  }

  async deleteTag(project: string, repoName: string, name: string): Promise<void> {
    const repo = await this.#repo(project, repoName);
    const deleted = await this.#db
      .deleteFrom('data_tags')
      .where('repo_id', '=', repo.id)
      .where('name', '=', name)
      .executeTakeFirst();
    if (Number(deleted.numDeletedRows) === 0) throw notFound(`tag '${name}' in '${repoName}'`, 'tag');
  }

  // Content

  /** Stores one file's bytes (streamed, hashed while copying) and claims it for the commit that will name it. */
  storeFile(
    body: Readable | AsyncIterable<Uint8Array>,
    options: { maxBytes?: number; signal?: AbortSignal } = {},
  ): Promise<FileRef> {
    return this.#artifacts.put(body, { ...options, onHashed: (ref) => this.#guard.protect([ref.sha256]) });
  }

  /** Stores many small files held in memory, with one durability barrier. */
  storeSmallFiles(bodies: readonly Uint8Array[]): Promise<FileRef[]> {
    return this.#artifacts.putMany(bodies, { onHashed: (refs) => this.#guard.protect(refs.map((r) => r.sha256)) });
  }

  /**
   * Puts and deletes in one commit on a branch. Contents must already be stored (`storeFile`). See the class
   * comment for what happens when the branch moves meanwhile.
   */
  async commit(project: string, repoName: string, input: CommitInput): Promise<CommitResult> {
    const repo = await this.#repo(project, repoName);
    const branch = input.branch ?? repo.default_branch;
    checkName(branch, 'branch');
    const message = input.message.trim();
    if (message === '' || message.length > MAX_MESSAGE) {
      throw new ModelportError(
        'invalid_request',
        `message: say what the commit changes (1-${MAX_MESSAGE} characters)`,
        {
          field: 'message',
        },
      );
    }
    // The last put of a path wins (a tar may hold the same path twice).
    const puts = [...new Map((input.puts ?? []).map((p) => [p.path, p])).values()];
    const deletes = [...new Set(input.deletes ?? [])];
    if (puts.length === 0 && deletes.length === 0) {
      throw new ModelportError(
        'invalid_request',
        'body: the put names no file; send a file, a folder with files, or paths to delete',
        {
          field: 'body',
        },
      );
    }
    const touched = [...puts.map((p) => p.path), ...deletes];

    let base = (await this.#branchRow(repo, branch)).head;
    if (input.expect !== undefined && base !== input.expect) throw this.#moved(branch, base, input.expect);
    for (let rebased = 0; rebased <= MAX_REBASES; rebased++) {
      const baseRow = base === null ? undefined : await this.#commitRow(repo, base);
      const baseTree = baseRow ? await this.#tree(baseRow.tree_sha256) : EMPTY_TREE;
      const tree = applyChanges(baseTree, { puts, deletes });
      const diff = diffTrees(baseTree, tree);
      const changes = { added: diff.added.length, changed: diff.changed.length, removed: diff.removed.length };
      if (baseRow && changes.added + changes.changed + changes.removed === 0) {
        return { commit: toCommit(repo.name, baseRow), created: false, rebased };
      }
      const treeBytes = encodeTree(tree);
      const [treeRef] = await this.storeSmallFiles([treeBytes]);
      this.#cacheTree(treeRef!.sha256, tree);
      const totals = treeTotals(tree);
      const created = this.#stamp();
      const parents = base === null ? [] : [base];
      const author = input.author;
      const id = commitId({ tree: treeRef!.sha256, parents, branch, author, message, created });
      const row: CommitRow = {
        repo_id: repo.id,
        id,
        parents: JSON.stringify(parents),
        tree_sha256: treeRef!.sha256,
        file_count: totals.files,
        total_size: totals.size,
        branch,
        message,
        author,
        changes: JSON.stringify(changes),
        created_at: created,
      };
      const profiled = puts.flatMap((p) => {
        const format = tabularFormat(p.path);
        const stillThere = tree.get(p.path)?.sha256 === p.sha256;
        return format !== undefined && stillThere ? [{ sha256: p.sha256, format }] : [];
      });
      const landed = await this.#land(project, repo, row, base, profiled);
      if (landed === true) {
        if (profiled.length > 0) this.#profiles?.kick();
        for (const listener of this.#commitListeners) listener();
        return { commit: toCommit(repo.name, row), created: true, rebased };
      }
      // The branch moved: rebase onto its new head when the changes touch different paths.
      if (input.expect !== undefined) throw this.#moved(branch, landed, input.expect);
      if (landed !== null) {
        const theirs = await this.#changedSince(repo, baseTree, landed);
        const clash = theirs.find((path) => touched.some((mine) => isWithin(path, mine) || isWithin(mine, path)));
        if (clash !== undefined) {
          throw new ModelportError(
            'conflict',
            `branch '${branch}' moved to ${landed.slice(0, 12)} while this commit was made, and that commit also changed '${showPath(clash)}'; nothing was committed. Look at the new head and put again`,
            { field: 'branch' },
          );
        }
      }
      base = landed;
    }
    throw new ModelportError('conflict', `branch '${branch}' kept moving; nothing was committed. Try again`, {
      field: 'branch',
    });
  }

  /** The commit a reference names (branch, branch~N, tag, id or unique id prefix). */
  async resolveCommit(project: string, repoName: string, ref: string): Promise<DataCommit> {
    const repo = await this.#repo(project, repoName);
    return toCommit(repo.name, await this.#resolve(repo, ref, 'ref'));
  }

  /**
   * Checks a lineage reference `repo@ref` and returns it pinned to the full commit id (`repo@<64 hex>`); the
   * registry stores that, so a model names the exact data even after the branch moves.
   */
  async pinLineage(project: string, value: string, field = 'dataCommit'): Promise<string> {
    const { repo, ref } = parseRepoRef(value, field);
    if (ref === undefined) {
      throw new ModelportError('invalid_request', `${field}: name a commit as ${repo}@<commit id> or ${repo}@main`, {
        field,
      });
    }
    try {
      const commit = await this.resolveCommit(project, repo, ref);
      return `${repo}@${commit.id}`;
    } catch (error) {
      if (error instanceof ModelportError && (error.code === 'not_found' || error.code === 'invalid_request')) {
        throw new ModelportError(
          error.code,
          `${field}: '${value.slice(0, 140)}' does not name a data commit in project '${project}' (${error.message})`,
          { field },
        );
      }
      throw error;
    }
  }

  async log(project: string, repoName: string, ref: string | undefined, limit = 50): Promise<DataCommit[]> {
    const repo = await this.#repo(project, repoName);
    if (ref === undefined && (await this.#branchHead(repo, repo.default_branch)) === null) return [];
    let row: CommitRow | undefined = await this.#resolve(repo, ref ?? repo.default_branch, 'ref');
    const out: DataCommit[] = [];
    while (row && out.length < Math.min(Math.max(limit, 1), 1000)) {
      out.push(toCommit(repo.name, row));
      const parent: string | undefined = (JSON.parse(row.parents) as string[])[0];
      row = parent === undefined ? undefined : await this.#commitRow(repo, parent);
    }
    return out;
  }

  async tree(
    project: string,
    repoName: string,
    ref: string,
    path: string,
    recursive: boolean,
  ): Promise<{ commit: DataCommit; entries: TreeEntry[] }> {
    const repo = await this.#repo(project, repoName);
    const row = await this.#resolve(repo, ref, 'ref');
    const tree = await this.#tree(row.tree_sha256);
    if (tree.size === 0 && path === '') return { commit: toCommit(repo.name, row), entries: [] };
    return { commit: toCommit(repo.name, row), entries: listTree(tree, path, recursive) };
  }

  /** A file's content, verified against its sha256 as it streams (the stream errors with `artifact_corrupt`). */
  async openFile(
    project: string,
    repoName: string,
    ref: string,
    path: string,
  ): Promise<{ commit: DataCommit; file: FileRef; stream: Readable }> {
    const repo = await this.#repo(project, repoName);
    const row = await this.#resolve(repo, ref, 'ref');
    const file = (await this.#tree(row.tree_sha256)).get(path);
    if (!file) {
      throw notFound(
        `file '${showPath(path)}' at commit ${row.id.slice(0, 12)} of '${repoName}' (list it with data ls)`,
        'path',
      );
    }
    return { commit: toCommit(repo.name, row), file, stream: await this.#artifacts.open(file.sha256) };
  }

  async diff(project: string, repoName: string, from: string, to: string, limit = 10_000): Promise<CommitDiff> {
    const repo = await this.#repo(project, repoName);
    const [fromRow, toRow] = await Promise.all([this.#resolve(repo, from, 'from'), this.#resolve(repo, to, 'to')]);
    const diff = diffTrees(await this.#tree(fromRow.tree_sha256), await this.#tree(toRow.tree_sha256));
    const sum = (entries: { size: number }[]) => entries.reduce((total, e) => total + e.size, 0);
    const cut = Math.max(0, limit);
    return {
      repo: repo.name,
      from: fromRow.id,
      to: toRow.id,
      added: diff.added.slice(0, cut),
      removed: diff.removed.slice(0, cut),
      changed: diff.changed.slice(0, cut),
      totals: {
        added: diff.added.length,
        removed: diff.removed.length,
        changed: diff.changed.length,
        bytesAdded: sum(diff.added) + diff.changed.reduce((t, e) => t + Math.max(0, e.size - (e.oldSize ?? 0)), 0),
        bytesRemoved: sum(diff.removed) + diff.changed.reduce((t, e) => t + Math.max(0, (e.oldSize ?? 0) - e.size), 0),
      },
      truncated: [diff.added, diff.removed, diff.changed].some((list) => list.length > cut),
    };
  }

  async profile(project: string, repoName: string, ref: string, path: string): Promise<FileProfile> {
    const format = tabularFormat(path);
    if (format === undefined) {
      throw new ModelportError(
        'invalid_request',
        `path: '${showPath(path)}' is not a tabular file; profiles cover .csv, .tsv, .jsonl, .ndjson and .parquet`,
        { field: 'path' },
      );
    }
    const { commit, file } = await this.#fileAt(project, repoName, ref, path);
    const row = await this.#db
      .selectFrom('data_profiles')
      .selectAll()
      .where('sha256', '=', file.sha256)
      .where('format', '=', format)
      .executeTakeFirst();
    return {
      repo: repoName,
      commit: commit.id,
      path,
      sha256: file.sha256,
      format,
      state: (row?.state ?? 'pending') as FileProfile['state'],
      profile: row?.profile ? JSON.parse(row.profile) : null,
      error: row?.error ?? (row ? null : 'the profile has not been scheduled yet'),
      updatedAt: row?.updated_at ?? commit.createdAt,
    };
  }

  /** The content digests a tree names (for garbage collection). */
  async treeFiles(treeSha256: string): Promise<string[]> {
    return [...(await this.#tree(treeSha256)).values()].map((f) => f.sha256);
  }

  async events(options: { after?: number; type?: string; limit?: number }): Promise<DataEvent[]> {
    return listEvents(this.#db, options);
  }

  // Internals

  async #fileAt(
    project: string,
    repoName: string,
    ref: string,
    path: string,
  ): Promise<{ commit: DataCommit; file: FileRef }> {
    const repo = await this.#repo(project, repoName);
    const row = await this.#resolve(repo, ref, 'ref');
    const file = (await this.#tree(row.tree_sha256)).get(path);
    if (!file) throw notFound(`file '${showPath(path)}' at commit ${row.id.slice(0, 12)} of '${repoName}'`, 'path');
    return { commit: toCommit(repo.name, row), file };
  }

  /** One transaction: the commit row, the branch compare-and-swap, pending profiles, the event. */
  async #land(
    project: string,
    repo: RepoRow,
    row: CommitRow,
    base: string | null,
    profiled: { sha256: string; format: TabularFormat }[],
  ): Promise<true | string | null> {
    return this.#store.transaction(async (trx) => {
      const moved = await trx
        .updateTable('data_branches')
        .set({ head: row.id, updated_at: row.created_at })
        .where('repo_id', '=', repo.id)
        .where('name', '=', row.branch)
        .where('head', base === null ? 'is' : '=', base)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) {
        const now = await trx
          .selectFrom('data_branches')
          .select('head')
          .where('repo_id', '=', repo.id)
          .where('name', '=', row.branch)
          .executeTakeFirst();
        if (!now) throw notFound(`branch '${row.branch}' of '${repo.name}' (it was deleted)`, 'branch');
        return now.head;
      }
      await trx.insertInto('data_commits').values(row).execute();
      if (profiled.length > 0) {
        await trx
          .insertInto('data_profiles')
          .values(
            profiled.map((p) => ({
              sha256: p.sha256,
              format: p.format,
              state: 'pending',
              profile: null,
              error: null,
              created_at: row.created_at,
              updated_at: row.created_at,
            })),
          )
          .onConflict((oc) => oc.columns(['sha256', 'format']).doNothing())
          .execute();
      }
      await appendEvent(
        trx,
        this.#store.dialect,
        {
          type: 'data.commit',
          subject: `${project}/${repo.name}@${row.id}`,
          payload: {
            project,
            repo: repo.name,
            branch: row.branch,
            commit: row.id,
            parents: JSON.parse(row.parents),
            author: row.author,
            message: row.message,
            changes: JSON.parse(row.changes),
          },
        },
        new Date(row.created_at),
      );
      return true as const;
    });
  }

  /** Paths that differ between `baseTree` and the tree of commit `head`. */
  async #changedSince(repo: RepoRow, baseTree: Tree, head: string): Promise<string[]> {
    const headTree = await this.#tree((await this.#commitRow(repo, head)).tree_sha256);
    const diff = diffTrees(baseTree, headTree);
    return [...diff.added, ...diff.removed, ...diff.changed].map((e) => e.path);
  }

  #moved(branch: string, head: string | null, expected: string): ModelportError {
    return new ModelportError(
      'conflict',
      `branch '${branch}' is at ${head === null ? 'no commit' : head.slice(0, 12)}, not at the expected ${expected.slice(0, 12)}; nothing was changed`,
      { field: 'expect' },
    );
  }

  async #tree(sha256: string): Promise<Tree> {
    const cached = this.#trees.get(sha256);
    if (cached) {
      this.#trees.delete(sha256);
      this.#trees.set(sha256, cached);
      return cached;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of await this.#artifacts.open(sha256)) chunks.push(chunk as Buffer);
    const tree = decodeTree(Buffer.concat(chunks));
    this.#cacheTree(sha256, tree);
    return tree;
  }

  #cacheTree(sha256: string, tree: Tree): void {
    if (this.#trees.has(sha256) || tree.size > this.#treeCacheFiles) return;
    this.#trees.set(sha256, tree);
    this.#cachedFiles += tree.size;
    for (const [key, old] of this.#trees) {
      if (this.#cachedFiles <= this.#treeCacheFiles) break;
      this.#trees.delete(key);
      this.#cachedFiles -= old.size;
    }
  }

  async #resolve(repo: RepoRow, ref: string, field: string): Promise<CommitRow> {
    const { name, back } = parseRevision(ref, field);
    let id: string | null | undefined;
    const branch = await this.#db
      .selectFrom('data_branches')
      .select('head')
      .where('repo_id', '=', repo.id)
      .where('name', '=', name)
      .executeTakeFirst();
    if (branch) {
      if (branch.head === null)
        throw notFound(`a commit on branch '${name}' of '${repo.name}' (it has none yet)`, field);
      id = branch.head;
    } else {
      const tag = await this.#db
        .selectFrom('data_tags')
        .select('commit_id')
        .where('repo_id', '=', repo.id)
        .where('name', '=', name)
        .executeTakeFirst();
      id = tag?.commit_id;
    }
    if (id === undefined && /^[0-9a-f]{4,64}$/.test(name)) {
      const rows = await this.#db
        .selectFrom('data_commits')
        .select('id')
        .where('repo_id', '=', repo.id)
        .where('id', '>=', name)
        .where('id', '<', `${name}g`)
        .limit(2)
        .execute();
      if (rows.length > 1) {
        throw new ModelportError('invalid_request', `${field}: '${name}' matches several commits; give more digits`, {
          field,
        });
      }
      id = rows[0]?.id;
    }
    if (id === undefined || id === null) {
      throw notFound(`commit '${ref}' in '${repo.name}' (no branch, tag or commit id matches; see data log)`, field);
    }
    let row = await this.#commitRow(repo, id);
    for (let i = 0; i < back; i++) {
      const parent = (JSON.parse(row.parents) as string[])[0];
      if (parent === undefined) {
        throw notFound(
          `commit '${ref}' in '${repo.name}' (the history has only ${i + 1} commit(s) back from ${name})`,
          field,
        );
      }
      row = await this.#commitRow(repo, parent);
    }
    return row;
  }

  async #commitRow(repo: RepoRow, id: string): Promise<CommitRow> {
    const row = await this.#db
      .selectFrom('data_commits')
      .selectAll()
      .where('repo_id', '=', repo.id)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound(`commit ${id.slice(0, 12)} in '${repo.name}'`, 'ref');
    return row;
  }

  async #branchRow(repo: RepoRow, name: string) {
    const row = await this.#db
      .selectFrom('data_branches')
      .selectAll()
      .where('repo_id', '=', repo.id)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw notFound(`branch '${name}' of '${repo.name}' (create it with data branch create)`, 'branch');
    return row;
  }

  async #branchHead(repo: RepoRow, name: string): Promise<string | null> {
    return (await this.#branchRow(repo, name)).head;
  }

  async #repo(project: string, name: string): Promise<RepoRow> {
    checkName(name, 'repo');
    const projectId = await this.#projectId(project);
    const row = await this.#db
      .selectFrom('data_repos')
      .select(['id', 'name', 'default_branch'])
      .where('project_id', '=', projectId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw notFound(`data repository '${name}' in project '${project}'`, 'repo');
    return row;
  }

  async #projectId(project: string): Promise<string> {
    checkName(project, 'project');
    return projectIdOf(this.#db, project);
  }

  #stamp(): string {
    return this.#now().toISOString();
  }
}

function toCommit(repo: string, row: CommitRow): DataCommit {
  return {
    repo,
    id: row.id,
    parents: JSON.parse(row.parents) as string[],
    tree: row.tree_sha256,
    branch: row.branch,
    message: row.message,
    author: row.author,
    createdAt: row.created_at,
    files: Number(row.file_count),
    size: Number(row.total_size),
    changes: JSON.parse(row.changes),
  };
}
