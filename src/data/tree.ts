/**
 * A commit's tree: every file of the repository at that commit, by path, with its content's sha256 and size.
 * Stored as one canonical blob (sorted, JSON) in the artifact store, so identical trees are stored once and a
 * tree's digest pins every byte of the commit.
 */
import { isWithin, ModelportError, notFound, showPath } from '../core/index.ts';
import type { DiffEntry, TreeEntry } from './types.ts';

export interface FileRef {
  sha256: string;
  size: number;
}

/** Paths to files, sorted by path (UTF-16 code units, as `Array.prototype.sort` orders strings). */
export type Tree = ReadonlyMap<string, FileRef>;

export const EMPTY_TREE: Tree = new Map();

const TREE_VERSION = 1;

/** The canonical bytes: `{"version":1,"files":[[path,sha256,size],...]}` sorted by path. */
export function encodeTree(tree: Tree): Buffer {
  const paths = [...tree.keys()].sort();
  const parts: string[] = [];
  for (const path of paths) {
    const file = tree.get(path)!;
    parts.push(`[${JSON.stringify(path)},"${file.sha256}",${file.size}]`);
  }
  return Buffer.from(`{"version":${TREE_VERSION},"files":[${parts.join(',')}]}`);
}

export function decodeTree(bytes: Buffer): Tree {
  const parsed = JSON.parse(bytes.toString('utf8')) as { version: number; files: [string, string, number][] };
  if (parsed.version !== TREE_VERSION) {
    throw new ModelportError('internal', `tree format version ${parsed.version} is not supported by this server`);
  }
  const tree = new Map<string, FileRef>();
  for (const [path, sha256, size] of parsed.files) tree.set(path, { sha256, size });
  return tree;
}

export interface TreeChanges {
  /** Files to add or replace. */
  puts: readonly ({ path: string } & FileRef)[];
  /** Files or folders to remove. */
  deletes: readonly string[];
}

/**
 * Applies deletes, then puts, to `base`. A delete that matches no file throws `not_found` (field `deletes`); a
 * put that would make a path both a file and a folder throws `conflict` (field `path`).
 */
export function applyChanges(base: Tree, changes: TreeChanges): Map<string, FileRef> {
  const next = new Map(base);
  for (const target of changes.deletes) {
    let removed = 0;
    if (next.delete(target)) removed++;
    const folder = `${target}/`;
    for (const path of base.keys()) {
      if (path.startsWith(folder) && next.delete(path)) removed++;
    }
    if (removed === 0) throw notFound(`'${showPath(target)}' (no file or folder at this path)`, 'deletes');
  }
  for (const put of changes.puts) next.set(put.path, { sha256: put.sha256, size: put.size });
  if (changes.puts.length > 0) checkFileFolderClash(next, changes.puts);
  return next;
}

/** A path cannot be a file and a folder at once: `a` and `a/b` never coexist. */
function checkFileFolderClash(tree: Map<string, FileRef>, puts: TreeChanges['puts']): void {
  const folders = new Set<string>();
  for (const path of tree.keys()) {
    for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) folders.add(path.slice(0, i));
  }
  for (const put of puts) {
    if (folders.has(put.path)) {
      throw new ModelportError(
        'conflict',
        `path: '${showPath(put.path)}' is a folder in this branch; put the file at another path or delete the folder first`,
        { field: 'path' },
      );
    }
  }
  for (const path of tree.keys()) {
    if (folders.has(path)) {
      throw new ModelportError(
        'conflict',
        `path: '${showPath(path)}' is a file in this branch, so it cannot also be a folder; delete it first`,
        { field: 'path' },
      );
    }
  }
}

export interface TreeDiff {
  added: DiffEntry[];
  removed: DiffEntry[];
  changed: DiffEntry[];
}

/** Files added, removed and changed (different content) from `from` to `to`, each sorted by path. */
export function diffTrees(from: Tree, to: Tree): TreeDiff {
  const added: DiffEntry[] = [];
  const removed: DiffEntry[] = [];
  const changed: DiffEntry[] = [];
  for (const [path, file] of to) {
    const before = from.get(path);
    if (before === undefined) added.push({ path, size: file.size, sha256: file.sha256 });
    else if (before.sha256 !== file.sha256) {
      changed.push({ path, size: file.size, sha256: file.sha256, oldSize: before.size, oldSha256: before.sha256 });
    }
  }
  for (const [path, file] of from) {
    if (!to.has(path)) removed.push({ path, size: file.size, sha256: file.sha256 });
  }
  const byPath = (a: DiffEntry, b: DiffEntry) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  return { added: added.sort(byPath), removed: removed.sort(byPath), changed: changed.sort(byPath) };
}

/**
 * The entries directly inside folder `prefix` ('' is the root): files with their sizes, and folders with the
 * number and total size of the files below them. With `recursive`, every file below `prefix` instead. A prefix
 * that names a file lists that file; one that names nothing throws `not_found` (field `path`).
 */
export function listTree(tree: Tree, prefix: string, recursive: boolean): TreeEntry[] {
  const exact = prefix === '' ? undefined : tree.get(prefix);
  if (exact) return [{ path: prefix, type: 'file', size: exact.size, sha256: exact.sha256 }];
  const files: TreeEntry[] = [];
  const folders = new Map<string, TreeEntry>();
  const start = prefix === '' ? 0 : prefix.length + 1;
  for (const [path, file] of tree) {
    if (!isWithin(path, prefix)) continue;
    const slash = recursive ? -1 : path.indexOf('/', start);
    if (slash < 0) {
      files.push({ path, type: 'file', size: file.size, sha256: file.sha256 });
      continue;
    }
    const folder = path.slice(0, slash);
    const entry = folders.get(folder) ?? { path: folder, type: 'folder', size: 0, files: 0 };
    entry.size += file.size;
    entry.files = (entry.files ?? 0) + 1;
    folders.set(folder, entry);
  }
  if (files.length === 0 && folders.size === 0 && prefix !== '') {
    throw notFound(`'${showPath(prefix)}' (no file or folder at this path)`, 'path');
  }
  return [...folders.values(), ...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Totals for a commit row. */
export function treeTotals(tree: Tree): { files: number; size: number } {
  let size = 0;
  for (const file of tree.values()) size += file.size;
  return { files: tree.size, size };
}
