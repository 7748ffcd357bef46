/** `modelport data ...` and `modelport gc`: versioned datasets from the command line. */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, sep } from 'node:path';
import { type ApiResponse, type ModelportClient, type TarFile, tarSize, writeTar } from '../../client/index.ts';
import { formatBytes, ModelportError, parseCommitPath, parseDuration, parseRepoRef } from '../../core/index.ts';
import { type ByteSink, type CommittableSink, fileSink, streamSink } from '../../scoring/index.ts';
import { type Command, type CommandContext, defineCommand, UsageError } from '../command.ts';
import { answer, type Column, columns, details, type Io, json, listing, table } from '../output.ts';
import { progressBar } from '../progress.ts';

type CommitResult = ApiResponse<'createCommit'>;
type DataCommit = ApiResponse<'getCommit'>;
type FileProfile = ApiResponse<'getProfile'>;

const short = (id: string | null | undefined) => (id ? id.slice(0, 12) : '-');

function showCommit(ctx: CommandContext, result: CommitResult): void {
  const { commit } = result;
  if (ctx.format === 'json') {
    ctx.io.out(json(result));
    return;
  }
  const c = commit.changes;
  ctx.io.out(
    result.created
      ? `committed ${commit.repo}@${short(commit.id)} on ${commit.branch}: +${c.added} ~${c.changed} -${c.removed} (${commit.files} files, ${formatBytes(commit.size)})${result.rebased ? `, rebased ${result.rebased}x onto a newer head` : ''}\n`
      : `nothing changed: ${commit.repo}@${commit.branch} is still ${short(commit.id)}\n`,
  );
}

const SMALL_FILE = 1024 * 1024;

async function* readWhole(file: string): AsyncGenerator<Uint8Array> {
  yield readFileSync(file);
}

/** Every regular file below `root`, with paths relative to it using '/'. Symbolic links are refused by name. */
async function filesBelow(root: string): Promise<TarFile[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files: TarFile[] = [];
  for (const entry of entries) {
    const full = join(entry.parentPath, entry.name);
    if (entry.isDirectory()) continue;
    if (!entry.isFile())
      throw new UsageError(`'${full}' is not a regular file (a link or device); copy the data in instead`);
    const path = relative(root, full).split(sep).join('/');
    // Synchronous: over many small files a stat is cheaper than its promise's thread-pool round trip.
    const { size } = statSync(full);
    // Small files are read whole, in one call; large ones stream.
    files.push({ path, size, open: size <= SMALL_FILE ? () => readWhole(full) : () => createReadStream(full) });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function putLocal(
  io: Io,
  client: ModelportClient,
  repo: string,
  branch: string | undefined,
  source: string,
  target: string | undefined,
  message: string,
  expect: string | undefined,
): Promise<CommitResult> {
  const options = { ...(branch ? { branch } : {}), message, ...(expect ? { expect } : {}) };
  if (source === '-') {
    if (target === undefined)
      throw new UsageError('name the path in the repository when reading stdin: data put repo - data/x.csv');
    // Spool stdin first: the request needs its length, and a progress bar its total.
    const spool = join(tmpdir(), `modelport-put-${randomBytes(6).toString('hex')}`);
    try {
      const handle = await open(spool, 'wx', 0o600);
      try {
        for await (const chunk of process.stdin) await handle.write(chunk as Buffer);
      } finally {
        await handle.close();
      }
      return await putFile(io, client, repo, spool, target, options, 'stdin');
    } finally {
      await rm(spool, { force: true });
    }
  }
  const info = await stat(source).catch(() => undefined);
  if (!info) throw new UsageError(`cannot read '${source}'`);
  if (info.isDirectory()) {
    const files = await filesBelow(source);
    if (files.length === 0) throw new UsageError(`'${source}' holds no files; an empty put commits nothing`);
    const size = tarSize(files);
    const bar = progressBar(io, `uploading ${files.length} files`, size);
    const result = await client.putFolder(
      repo,
      target ?? '',
      { stream: writeTar(files), size },
      { ...options, onProgress: (sent) => bar.update(sent) },
    );
    bar.finish();
    return result;
  }
  return putFile(io, client, repo, source, target ?? basename(source), options, source);
}

async function putFile(
  io: Io,
  client: ModelportClient,
  repo: string,
  file: string,
  target: string,
  options: { branch?: string; message: string; expect?: string },
  shown: string,
): Promise<CommitResult> {
  const { size } = await stat(file);
  if (size === 0) {
    throw new UsageError(`${shown === 'stdin' ? 'stdin' : `'${shown}'`} is empty; an empty put commits nothing`);
  }
  const handle = await open(file);
  const bar = progressBar(io, 'uploading', size);
  try {
    const result = await client.putFile(
      repo,
      target,
      { stream: handle.readableWebStream() as unknown as AsyncIterable<Uint8Array>, size },
      { ...options, onProgress: (sent) => bar.update(sent) },
    );
    bar.finish();
    return result;
  } finally {
    await handle.close();
  }
}

/** Downloads one file, hashing it on the way and refusing a mismatch (the partial file is removed). */
async function download(
  io: Io,
  client: ModelportClient,
  repo: string,
  ref: string,
  path: string,
  out: string,
): Promise<number> {
  const file = await client.downloadFile(repo, ref, path);
  if (out !== '-') await mkdir(dirname(out), { recursive: true });
  const sink: CommittableSink | ByteSink = out === '-' ? streamSink(process.stdout) : fileSink(out);
  const bar = progressBar(io, `downloading ${basename(path)}`, out === '-' ? 0 : file.size);
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of file.body) {
      hash.update(chunk);
      size += chunk.byteLength;
      bar.update(size);
      await sink.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    }
    if (size !== file.size || hash.digest('hex') !== file.sha256) {
      throw new ModelportError(
        'artifact_corrupt',
        `'${path}' did not arrive intact (its sha256 differs); get it again`,
      );
    }
    if ('commit' in sink) await sink.commit();
    bar.finish();
  } catch (error) {
    if ('abort' in sink) await sink.abort();
    throw error;
  }
  return size;
}

const COMMIT_COLUMNS: Column<DataCommit>[] = [
  ['commit', (c) => short(c.id)],
  ['branch', (c) => c.branch],
  ['created', (c) => c.createdAt.replace('T', ' ').slice(0, 19)],
  ['author', (c) => c.author],
  ['changes', (c) => `+${c.changes.added} ~${c.changes.changed} -${c.changes.removed}`],
  ['files', (c) => c.files],
  ['size', (c) => formatBytes(c.size)],
  ['message', (c) => c.message.split('\n')[0]],
];

const num = (v: unknown) =>
  typeof v === 'number'
    ? Number.isInteger(v)
      ? String(v)
      : v.toPrecision(6)
    : v === null || v === undefined
      ? '-'
      : String(v);

function showProfile(ctx: CommandContext, p: FileProfile): number {
  if (ctx.format === 'json') {
    ctx.io.out(json(p));
    return p.state === 'failed' ? 1 : 0;
  }
  if (p.state !== 'ready' || !p.profile) {
    ctx.io.out(`${p.path} at ${short(p.commit)}: profile ${p.state}${p.error ? `: ${p.error}` : ''}\n`);
    return p.state === 'failed' ? 1 : 0;
  }
  ctx.io.out(
    `${p.path} at ${short(p.commit)}: ${p.profile.rows} rows, ${p.profile.columns.length} columns (${p.format})\n`,
  );
  ctx.io.out(
    columns(p.profile.columns, [
      ['column', (c) => c.name],
      ['type', (c) => c.type],
      ['nulls', (c) => c.nulls],
      ['distinct', (c) => c.distinct],
      ['min', (c) => num(c.min)],
      ['max', (c) => num(c.max)],
      ['mean', (c) => num(c.mean)],
      ['stddev', (c) => num(c.stddev)],
      ['p50', (c) => num(c.quantiles?.['p50'])],
    ]),
  );
  return 0;
}

const putOptions = {
  message: { type: 'string', short: 'm', description: 'What the commit changes (required)' },
  expect: {
    type: 'string',
    description: 'Full id of the head you based the change on: refuse instead of rebasing if it moved',
  },
} as const;

function requireMessage(options: CommandContext['options']): string {
  const message = options['message'];
  if (typeof message !== 'string' || message.trim() === '')
    throw new UsageError('say what the commit changes with -m MESSAGE');
  return message;
}

export const dataCommands: Command[] = [
  defineCommand({
    words: ['data', 'repos', 'create'],
    usage: 'data repos create <name> [--description D] [--default-branch main]',
    summary: 'Create a data repository',
    args: [1, 1],
    options: {
      description: { type: 'string', description: 'What the data is' },
      'default-branch': { type: 'string', description: 'Name of the first branch (default main)' },
    },
    async run(ctx) {
      const repo = await ctx.client().createRepo(ctx.args[0] as string, {
        ...(ctx.options['description'] ? { description: ctx.options['description'] as string } : {}),
        ...(ctx.options['default-branch'] ? { defaultBranch: ctx.options['default-branch'] as string } : {}),
      });
      ctx.io.out(answer(ctx.format, repo, `created data repository ${repo.name} (branch ${repo.defaultBranch})\n`));
      return 0;
    },
  }),
  defineCommand({
    words: ['data', 'repos', 'list'],
    usage: 'data repos list',
    summary: 'List data repositories',
    args: [0, 0],
    async run(ctx) {
      const repos = await ctx.client().listRepos();
      ctx.io.out(
        listing(ctx.format, repos, [
          ['name', (r) => r.name],
          ['default branch', (r) => r.defaultBranch],
          ['branches', (r) => r.branches],
          ['tags', (r) => r.tags],
          ['created', (r) => r.createdAt.slice(0, 19)],
          ['description', (r) => r.description],
        ]),
      );
      return 0;
    },
  }),
  defineCommand({
    words: ['data', 'repos', 'delete'],
    usage: 'data repos delete <name>',
    summary: 'Delete a data repository (needs admin); its contents go at the next gc',
    args: [1, 1],
    async run(ctx) {
      await ctx.client().deleteRepo(ctx.args[0] as string);
      ctx.io.out(answer(ctx.format, { deleted: ctx.args[0] }, `deleted data repository ${ctx.args[0]}\n`));
      return 0;
    },
  }),
  defineCommand({
    words: ['data', 'put'],
    usage: 'data put <repo>[@branch] <local-path|-> [<path>] -m MESSAGE [--expect COMMIT]',
    summary:
      'Commit a file, a folder (recursively) or stdin in one atomic commit; a file goes to <path> (default its name), a folder under <path> (default the root)',
    args: [2, 3],
    options: putOptions,
    async run(ctx) {
      const [target, source, path] = ctx.args as [string, string, string | undefined];
      const { repo, ref: branch } = parseRepoRef(target);
      const result = await putLocal(
        ctx.io,
        ctx.client(),
        repo,
        branch,
        source,
        path,
        requireMessage(ctx.options),
        ctx.options['expect'] as string | undefined,
      );
      showCommit(ctx, result);
      return 0;
    },
  }),
  defineCommand({
    words: ['data', 'rm'],
    usage: 'data rm <repo>[@branch] <path>... -m MESSAGE',
    summary: 'Commit the removal of files or folders',
    args: [2, 1000],
    options: putOptions,
    async run(ctx) {
      const [target, ...paths] = ctx.args as [string, ...string[]];
      const { repo, ref: branch } = parseRepoRef(target);
      const expect = ctx.options['expect'] as string | undefined;
      const result = await ctx.client().deletePaths(repo, paths, {
        ...(branch ? { branch } : {}),
        message: requireMessage(ctx.options),
        ...(expect ? { expect } : {}),
      });
      showCommit(ctx, result);
      return 0;
    },
  }),
  defineCommand({
    words: ['data', 'ls'],
    usage: 'data ls <repo>@<commit> [path] [-r]',
    summary: 'List a folder at a commit (a branch, main~2, a tag or a commit id)',
    args: [1, 2],
    options: { recursive: { type: 'boolean', short: 'r', description: 'Every file below the folder' } },
    async run(ctx) {
      const { repo, ref, path } = parseCommitPath(ctx.args[0] as string);
      const listed = await ctx.client().listTree(repo, ref, ctx.args[1] ?? path, Boolean(ctx.options['recursive']));
      ctx.io.out(
        listing(
          ctx.format,
          listed.entries,
          [
            ['path', (e) => (e.type === 'folder' ? `${e.path}/` : e.path)],
            ['type', (e) => (e.type === 'folder' ? `folder (${e.files} files)` : 'file')],
            ['size', (e) => formatBytes(e.size)],
            ['sha256', (e) => (e.sha256 ? e.sha256.slice(0, 12) : '-')],
          ],
          { json: listed },
        ),
      );
      return 0;
    },
  }),
  defineCommand({
    words: ['data', 'get'],
    usage: 'data get <repo>@<commit>:<path> [-o out]',
    summary:
      'Download a file (or every file below a folder) at a commit, each verified against its sha256; -o - writes a file to stdout',
    args: [1, 1],
    options: {
      output: { type: 'string', short: 'o', description: 'Where to write (default: the name of the file or folder)' },
    },
    async run(ctx) {
      const { repo, ref, path } = parseCommitPath(ctx.args[0] as string);
      const client = ctx.client();
      const listed = await client.listTree(repo, ref, path, true);
      const commit = listed.commit.id;
      const single = listed.entries.length === 1 && listed.entries[0]!.path === path;
      const out = (ctx.options['output'] as string | undefined) ?? (path ? basename(path) : repo);
      if (single) {
        const size = await download(ctx.io, client, repo, commit, path!, out);
        if (out !== '-') ctx.io.err(`got ${path} (${formatBytes(size)}, sha256 verified) -> ${out}\n`);
        return 0;
      }
      if (out === '-') throw new UsageError(`'${path ?? '/'}' is a folder; give -o a folder to write into`);
      let total = 0;
      for (const entry of listed.entries) {
        const rel = path ? entry.path.slice(path.length + 1) : entry.path;
        total += await download(ctx.io, client, repo, commit, entry.path, join(out, ...rel.split('/')));
      }
      ctx.io.err(`got ${listed.entries.length} files (${formatBytes(total)}, sha256 verified) -> ${out}/\n`);
      return 0;
    },
  }),
  defineCommand({
    words: ['data', 'log'],
    usage: 'data log <repo>[@ref] [--limit N]',
    summary: 'The commits of a branch (default the default branch), newest first',
    args: [1, 1],
    options: { limit: { type: 'string', description: 'How many commits (default 50)' } },
    async run(ctx) {
      const { repo, ref } = parseRepoRef(ctx.args[0] as string);
      const limit = ctx.options['limit'] === undefined ? undefined : Number(ctx.options['limit']);
      const commits = await ctx.client().listCommits(repo, ref, limit);
      ctx.io.out(listing(ctx.format, commits, COMMIT_COLUMNS));
      return 0;
    },
  }),
  defineCommand({
    words: ['data', 'diff'],
    usage: 'data diff <repo> <from> <to>',
    summary: 'Files added, removed and changed between two commits, with sizes',
    args: [3, 3],
    async run(ctx) {
      const [repo, from, to] = ctx.args as [string, string, string];
      const diff = await ctx.client().diffCommits(repo, from, to);
      if (ctx.format === 'json') {
        ctx.io.out(json(diff));
        return 0;
      }
      const rows = [
        ...diff.added.map((e) => ['+', e.path, '-', formatBytes(e.size)]),
        ...diff.changed.map((e) => ['~', e.path, formatBytes(e.oldSize ?? 0), formatBytes(e.size)]),
        ...diff.removed.map((e) => ['-', e.path, formatBytes(e.size), '-']),
      ].sort((a, b) => ((a[1] as string) < (b[1] as string) ? -1 : 1));
      ctx.io.out(table(['', 'path', 'before', 'after'], rows));
      const t = diff.totals;
      ctx.io.out(
        `${short(diff.from)}..${short(diff.to)}: ${t.added} added, ${t.changed} changed, ${t.removed} removed (+${formatBytes(t.bytesAdded)} -${formatBytes(t.bytesRemoved)})${diff.truncated ? ' (lists cut; -o json --limit for all)' : ''}\n`,
      );
      return 0;
    },
  }),
  defineCommand({
    words: ['data', 'branch', 'list'],
    usage: 'data branch list <repo>',
    summary: 'List branches and their heads',
    args: [1, 1],
    async run(ctx) {
      const branches = await ctx.client().listBranches(ctx.args[0] as string);
      ctx.io.out(
        listing(ctx.format, branches, [
          ['branch', (b) => b.name],
          ['head', (b) => short(b.head)],
          ['updated', (b) => b.updatedAt.slice(0, 19)],
        ]),
      );
      return 0;
    },
  }),
  defineCommand({
    words: ['data', 'branch', 'create'],
    usage: 'data branch create <repo> <name> [--from REF]',
    summary: 'Create a branch at a commit (default the head of the default branch)',
    args: [2, 2],
    options: { from: { type: 'string', description: 'A branch, main~2, a tag or a commit id' } },
    async run(ctx) {
      const [repo, name] = ctx.args as [string, string];
      const branch = await ctx.client().createBranch(repo, name, ctx.options['from'] as string | undefined);
      ctx.io.out(answer(ctx.format, branch, `created branch ${name} at ${short(branch.head)}\n`));
      return 0;
    },
  }),
  defineCommand({
    words: ['data', 'branch', 'reset'],
    usage: 'data branch reset <repo> <name> <to> [--expect COMMIT]',
    summary: 'Move a branch to another commit',
    args: [3, 3],
    options: { expect: putOptions.expect },
    async run(ctx) {
      const [repo, name, to] = ctx.args as [string, string, string];
      const branch = await ctx.client().resetBranch(repo, name, to, ctx.options['expect'] as string | undefined);
      ctx.io.out(answer(ctx.format, branch, `branch ${name} is now at ${short(branch.head)}\n`));
      return 0;
    },
  }),
  defineCommand({
    words: ['data', 'branch', 'delete'],
    usage: 'data branch delete <repo> <name>',
    summary: 'Delete a branch (its commits stay while anything reaches them; gc removes the rest)',
    args: [2, 2],
    async run(ctx) {
      const [repo, name] = ctx.args as [string, string];
      await ctx.client().deleteBranch(repo, name);
      ctx.io.out(answer(ctx.format, { deleted: name }, `deleted branch ${name}\n`));
      return 0;
    },
  }),
  defineCommand({
    words: ['data', 'tag', 'list'],
    usage: 'data tag list <repo>',
    summary: 'List tags',
    args: [1, 1],
    async run(ctx) {
      const tags = await ctx.client().listTags(ctx.args[0] as string);
      ctx.io.out(
        listing(ctx.format, tags, [
          ['tag', (t) => t.name],
          ['commit', (t) => short(t.commit)],
          ['by', (t) => t.createdBy],
          ['created', (t) => t.createdAt.slice(0, 19)],
        ]),
      );
      return 0;
    },
  }),
  defineCommand({
    words: ['data', 'tag', 'create'],
    usage: 'data tag create <repo> <name> <commit>',
    summary: 'Tag a commit (a branch, main~2 or a commit id); tags never move',
    args: [3, 3],
    async run(ctx) {
      const [repo, name, commit] = ctx.args as [string, string, string];
      const tag = await ctx.client().createTag(repo, name, commit);
      ctx.io.out(answer(ctx.format, tag, `tagged ${short(tag.commit)} as ${name}\n`));
      return 0;
    },
  }),
  defineCommand({
    words: ['data', 'tag', 'delete'],
    usage: 'data tag delete <repo> <name>',
    summary: 'Delete a tag',
    args: [2, 2],
    async run(ctx) {
      const [repo, name] = ctx.args as [string, string];
      await ctx.client().deleteTag(repo, name);
      ctx.io.out(answer(ctx.format, { deleted: name }, `deleted tag ${name}\n`));
      return 0;
    },
  }),
  defineCommand({
    words: ['data', 'profile'],
    usage: 'data profile <repo>@<commit>:<path> [--wait]',
    summary: 'The profile of a CSV, TSV, JSON-lines or Parquet file: rows, schema, per-column statistics',
    args: [1, 1],
    options: { wait: { type: 'boolean', description: 'Wait (up to 10 minutes) while the profile is pending' } },
    async run(ctx) {
      const { repo, ref, path } = parseCommitPath(ctx.args[0] as string);
      if (path === undefined) throw new UsageError('name the file: data profile repo@main:data/train.csv');
      const client = ctx.client();
      let profile = await client.getProfile(repo, ref, path);
      const deadline = Date.now() + 10 * 60_000;
      while (ctx.options['wait'] && profile.state === 'pending' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        profile = await client.getProfile(repo, profile.commit, path);
      }
      return showProfile(ctx, profile);
    },
  }),
  defineCommand({
    words: ['gc'],
    usage: 'gc [--grace 1h] [--dry-run]',
    summary: 'Remove stored contents nothing names (data files, trees, model artifacts); needs admin',
    args: [0, 0],
    options: {
      grace: { type: 'string', description: 'Spare anything written more recently than this (default 1h)' },
      'dry-run': { type: 'boolean', description: 'Report what would be removed without removing it' },
    },
    async run(ctx) {
      const grace = ctx.options['grace'];
      const graceMs = grace === undefined ? undefined : parseDuration(grace as string);
      if (graceMs === undefined && grace !== undefined)
        throw new UsageError(`--grace takes a duration such as 1h or 30m, not '${grace}'`);
      const report = await ctx.client().collectGarbage({
        ...(graceMs !== undefined ? { graceSeconds: Math.round(graceMs / 1000) } : {}),
        ...(ctx.options['dry-run'] ? { dryRun: true } : {}),
      });
      ctx.io.out(
        ctx.format === 'json'
          ? json(report)
          : details([
              [
                report.dryRun ? 'would delete' : 'deleted',
                `${report.blobsDeleted} blobs (${formatBytes(report.bytesFreed)})`,
              ],
              ['kept', `${report.blobsKept} blobs named by models, jobs or data`],
              ['too young', `${report.blobsTooYoung} blobs newer than the ${report.graceSeconds}s grace period`],
              ['commits deleted', report.commitsDeleted],
              ['took', `${report.elapsedMs} ms`],
            ]),
      );
      return 0;
    },
  }),
];
