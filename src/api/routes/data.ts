/**
 * Routes of data repositories: repositories, branches, tags, commits (puts and deletes), trees, files, diffs and
 * profiles; plus the events feed and garbage collection. Uploads stream: a single file as
 * application/octet-stream, a folder as application/x-tar, deletions as application/json.
 */
import type { IncomingMessage } from 'node:http';
import { basename } from 'node:path';
import { z } from 'zod';
import { checkDataPath, checkDataPrefix, joinDataPath, ModelportError } from '../../core/index.ts';
import { type DataService, readTar } from '../../data/index.ts';
import type { GcOptions, GcReport } from '../../gc/index.ts';
import { parseJson, readBody, tooLarge } from '../../http/index.ts';
import { route } from '../route.ts';
import { Name, ProjectParams } from '../schemas.ts';

export interface DataRoutesDeps {
  data: DataService;
  /** Largest single file. */
  maxUploadBytes: number;
  gc: (options: GcOptions) => Promise<GcReport>;
}

/** Files held in memory and stored together when a folder is put (smaller ones are batched). */
const SMALL_FILE_BYTES = 1024 * 1024;
const BATCH_FILES = 20_000;
const BATCH_BYTES = 64 * 1024 * 1024;
/** Most files in one commit. */
const MAX_FILES = 1_000_000;

const Ref = z.string().min(1).max(80).describe('A branch (main), main~2, a tag, or a commit id or unique prefix');
const RepoParams = z.strictObject({ project: Name, repo: Name });
const BranchParams = RepoParams.extend({ branch: Name });
const TagParams = RepoParams.extend({ tag: Name });
const CommitParams = RepoParams.extend({ ref: Ref });

const RepoSchema = z.object({
  project: z.string(),
  name: z.string(),
  description: z.string(),
  defaultBranch: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
  branches: z.number().int(),
  tags: z.number().int(),
});
const CommitSchema = z.object({
  repo: z.string(),
  id: z.string().describe('sha256 of (tree, parents, branch, author, message, created)'),
  parents: z.array(z.string()),
  tree: z.string(),
  branch: z.string(),
  message: z.string(),
  author: z.string(),
  createdAt: z.string(),
  files: z.number().int(),
  size: z.number().int(),
  changes: z.object({ added: z.number().int(), changed: z.number().int(), removed: z.number().int() }),
});
const BranchSchema = z.object({
  name: z.string(),
  head: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const TagSchema = z.object({ name: z.string(), commit: z.string(), createdBy: z.string(), createdAt: z.string() });
const EntrySchema = z.object({
  path: z.string(),
  type: z.enum(['file', 'folder']),
  size: z.number().int(),
  sha256: z.string().optional(),
  files: z.number().int().optional(),
});
const DiffEntrySchema = z.object({
  path: z.string(),
  size: z.number().int(),
  sha256: z.string(),
  oldSize: z.number().int().optional(),
  oldSha256: z.string().optional(),
});
const ProfileSchema = z.object({
  repo: z.string(),
  commit: z.string(),
  path: z.string(),
  sha256: z.string(),
  format: z.enum(['csv', 'tsv', 'jsonl', 'parquet']),
  state: z.enum(['pending', 'ready', 'failed']),
  profile: z
    .object({
      format: z.enum(['csv', 'tsv', 'jsonl', 'parquet']),
      rows: z.number().int(),
      elapsedMs: z.number(),
      columns: z.array(
        z.object({
          name: z.string(),
          type: z.string(),
          nulls: z.number().int(),
          distinct: z.number().int(),
          min: z.union([z.string(), z.number()]).nullable(),
          max: z.union([z.string(), z.number()]).nullable(),
          mean: z.number().nullable(),
          stddev: z.number().nullable(),
          quantiles: z.record(z.string(), z.number()).nullable(),
          histogram: z.array(z.object({ lo: z.number(), hi: z.number(), count: z.number().int() })).nullable(),
          top: z.array(z.object({ value: z.string(), count: z.number().int() })).nullable(),
        }),
      ),
    })
    .nullable(),
  error: z.string().nullable(),
  updatedAt: z.string(),
});
const CommitResultSchema = z.object({ commit: CommitSchema, created: z.boolean(), rebased: z.number().int() });

const mediaType = (req: IncomingMessage) =>
  (req.headers['content-type'] ?? 'application/octet-stream').split(';')[0]!.trim();

export function dataRoutes({ data, maxUploadBytes, gc }: DataRoutesDeps) {
  /** A folder as a tar stream: small files batched in memory, large ones streamed, all before the commit. */
  async function storeTar(req: IncomingMessage, prefix: string, signal: AbortSignal) {
    const puts: { path: string; sha256: string; size: number }[] = [];
    let batch: { path: string; bytes: Buffer }[] = [];
    let batchBytes = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      const refs = await data.storeSmallFiles(batch.map((f) => f.bytes));
      for (const [i, f] of batch.entries()) puts.push({ path: f.path, ...refs[i]! });
      batch = [];
      batchBytes = 0;
    };
    for await (const entry of readTar(req)) {
      signal.throwIfAborted();
      const path = joinDataPath(prefix, checkDataPath(entry.path, 'body'));
      if (entry.size > maxUploadBytes) {
        throw new ModelportError(
          'payload_too_large',
          `body: '${entry.path.slice(0, 120)}' is ${entry.size} bytes, over the limit of ${maxUploadBytes} bytes per file`,
          { field: 'body' },
        );
      }
      if (puts.length + batch.length >= MAX_FILES) {
        throw new ModelportError(
          'payload_too_large',
          `body: a commit holds at most ${MAX_FILES} files; split the folder`,
          {
            field: 'body',
          },
        );
      }
      if (entry.size <= SMALL_FILE_BYTES) {
        const bytes = await entry.read();
        batch.push({ path, bytes });
        batchBytes += bytes.length;
        if (batch.length >= BATCH_FILES || batchBytes >= BATCH_BYTES) await flush();
      } else {
        puts.push({ path, ...(await data.storeFile(entry.body, { maxBytes: maxUploadBytes, signal })) });
      }
    }
    await flush();
    return puts;
  }

  return [
    route({
      id: 'listRepos',
      method: 'GET',
      path: '/projects/:project/repos',
      permission: 'read',
      tag: 'data',
      summary: 'List the data repositories of a project',
      params: ProjectParams,
      response: z.object({ repos: z.array(RepoSchema) }),
      handler: async ({ params }) => ({ repos: await data.listRepos(params.project) }),
    }),
    route({
      id: 'createRepo',
      method: 'POST',
      path: '/projects/:project/repos',
      permission: 'write',
      tag: 'data',
      summary: 'Create a data repository (with an empty default branch, main unless given)',
      params: ProjectParams,
      body: z.strictObject({
        name: Name,
        description: z.string().max(4096).optional(),
        defaultBranch: Name.optional(),
      }),
      status: 201,
      response: RepoSchema,
      handler: async ({ params, body, principal }) =>
        data.createRepo(params.project, body.name, {
          description: body.description,
          defaultBranch: body.defaultBranch,
          author: principal.subject,
        }),
    }),
    route({
      id: 'getRepo',
      method: 'GET',
      path: '/projects/:project/repos/:repo',
      permission: 'read',
      tag: 'data',
      summary: 'Show a data repository',
      params: RepoParams,
      response: RepoSchema,
      handler: async ({ params }) => data.getRepo(params.project, params.repo),
    }),
    route({
      id: 'deleteRepo',
      method: 'DELETE',
      path: '/projects/:project/repos/:repo',
      permission: 'admin',
      tag: 'data',
      summary: 'Delete a data repository with its branches, tags and commits (contents go at the next gc)',
      params: RepoParams,
      response: 'empty',
      handler: async ({ params }) => {
        await data.deleteRepo(params.project, params.repo);
      },
    }),
    route({
      id: 'listBranches',
      method: 'GET',
      path: '/projects/:project/repos/:repo/branches',
      permission: 'read',
      tag: 'data',
      summary: 'List branches with their heads',
      params: RepoParams,
      response: z.object({ branches: z.array(BranchSchema) }),
      handler: async ({ params }) => ({ branches: await data.listBranches(params.project, params.repo) }),
    }),
    route({
      id: 'createBranch',
      method: 'POST',
      path: '/projects/:project/repos/:repo/branches',
      permission: 'write',
      tag: 'data',
      summary: 'Create a branch at a commit (default: the head of the default branch)',
      params: RepoParams,
      body: z.strictObject({ name: Name, from: Ref.optional() }),
      status: 201,
      response: BranchSchema,
      handler: async ({ params, body }) => data.createBranch(params.project, params.repo, body.name, body.from),
    }),
    route({
      id: 'resetBranch',
      method: 'PUT',
      path: '/projects/:project/repos/:repo/branches/:branch',
      permission: 'write',
      tag: 'data',
      summary: 'Move (reset) a branch to a commit; with expect, only if its head is still that commit',
      params: BranchParams,
      body: z.strictObject({ to: Ref, expect: z.string().max(64).optional() }),
      response: BranchSchema,
      handler: async ({ params, body }) =>
        data.resetBranch(params.project, params.repo, params.branch, body.to, body.expect),
    }),
    route({
      id: 'deleteBranch',
      method: 'DELETE',
      path: '/projects/:project/repos/:repo/branches/:branch',
      permission: 'write',
      tag: 'data',
      summary: 'Delete a branch (its commits stay while anything else reaches them)',
      params: BranchParams,
      response: 'empty',
      handler: async ({ params }) => {
        await data.deleteBranch(params.project, params.repo, params.branch);
      },
    }),
    route({
      id: 'listTags',
      method: 'GET',
      path: '/projects/:project/repos/:repo/tags',
      permission: 'read',
      tag: 'data',
      summary: 'List tags',
      params: RepoParams,
      response: z.object({ tags: z.array(TagSchema) }),
      handler: async ({ params }) => ({ tags: await data.listTags(params.project, params.repo) }),
    }),
    route({
      id: 'createTag',
      method: 'POST',
      path: '/projects/:project/repos/:repo/tags',
      permission: 'write',
      tag: 'data',
      summary: 'Tag a commit (tags never move)',
      params: RepoParams,
      body: z.strictObject({ name: Name, commit: Ref }),
      status: 201,
      response: TagSchema,
      handler: async ({ params, body, principal }) =>
        data.createTag(params.project, params.repo, body.name, body.commit, principal.subject),
    }),
    route({
      id: 'deleteTag',
      method: 'DELETE',
      path: '/projects/:project/repos/:repo/tags/:tag',
      permission: 'write',
      tag: 'data',
      summary: 'Delete a tag',
      params: TagParams,
      response: 'empty',
      handler: async ({ params }) => {
        await data.deleteTag(params.project, params.repo, params.tag);
      },
    }),
    route({
      id: 'createCommit',
      method: 'POST',
      path: '/projects/:project/repos/:repo/commits',
      permission: 'write',
      tag: 'data',
      summary:
        'Commit to a branch: the body is one file (application/octet-stream, stored at `path`), a folder (application/x-tar, stored under `path`), or {"delete": [paths]} (application/json). One atomic commit; the author is the caller',
      params: RepoParams,
      query: z.strictObject({
        branch: Name.optional().describe('Default: the repository default branch'),
        path: z.string().max(1024).optional().describe('Where the file goes, or the folder the archive goes under'),
        message: z.string().min(1, 'say what the commit changes').max(4096),
        expect: z
          .string()
          .regex(/^[0-9a-f]{64}$/, 'use the full id of the head you based the change on')
          .optional()
          .describe('Refuse with conflict, instead of rebasing, if the branch head is not this commit'),
      }),
      body: { stream: 'application/octet-stream' },
      status: 201,
      response: CommitResultSchema,
      handler: async ({ params, query, req, principal, signal }) => {
        // Everything the request names is checked before its body is read, so bad input stores nothing.
        const branches = await data.listBranches(params.project, params.repo);
        const repo = await data.getRepo(params.project, params.repo);
        const branch = query.branch ?? repo.defaultBranch;
        if (!branches.some((b) => b.name === branch)) {
          throw new ModelportError(
            'not_found',
            `branch '${branch}' of '${params.repo}' not found (create it with data branch create)`,
            {
              field: 'query.branch',
            },
          );
        }
        const prefix = checkDataPrefix(query.path, 'query.path');
        const type = mediaType(req);
        const commit = (changes: { puts?: { path: string; sha256: string; size: number }[]; deletes?: string[] }) =>
          data.commit(params.project, params.repo, {
            branch,
            ...changes,
            message: query.message,
            author: principal.subject,
            expect: query.expect,
          });
        if (type === 'application/json') {
          const raw = parseJson(await readBody(req, 16 * 1024 * 1024));
          const parsed = z.strictObject({ delete: z.array(z.string()).min(1).max(100_000) }).safeParse(raw);
          if (!parsed.success) {
            throw new ModelportError('invalid_request', 'body: send {"delete": ["path", ...]} with at least one path', {
              field: 'body.delete',
            });
          }
          return commit({ deletes: parsed.data.delete.map((p, i) => checkDataPath(p, `body.delete[${i}]`)) });
        }
        if (type === 'application/x-tar') return commit({ puts: await storeTar(req, prefix, signal) });
        if (type !== 'application/octet-stream') {
          throw new ModelportError(
            'unsupported_media_type',
            `send a file as application/octet-stream, a folder as application/x-tar, or deletions as application/json, not ${type}`,
          );
        }
        if (prefix === '') {
          throw new ModelportError(
            'invalid_request',
            "query.path: name the file's path in the repository, e.g. data/train.csv",
            {
              field: 'query.path',
            },
          );
        }
        const declared = req.headers['content-length'];
        if (Number(declared) > maxUploadBytes) throw tooLarge(maxUploadBytes);
        if (declared === '0') {
          throw new ModelportError('invalid_request', 'body: the put is empty; send the file as the request body', {
            field: 'body',
          });
        }
        const file = await data.storeFile(req, { maxBytes: maxUploadBytes, signal });
        if (file.size === 0) {
          throw new ModelportError('invalid_request', 'body: the put is empty; send the file as the request body', {
            field: 'body',
          });
        }
        return commit({ puts: [{ path: prefix, ...file }] });
      },
    }),
    route({
      id: 'listCommits',
      method: 'GET',
      path: '/projects/:project/repos/:repo/commits',
      permission: 'read',
      tag: 'data',
      summary: 'The history from a commit back through first parents, newest first (default: the default branch)',
      params: RepoParams,
      query: z.strictObject({ ref: Ref.optional(), limit: z.coerce.number().int().min(1).max(1000).optional() }),
      response: z.object({ commits: z.array(CommitSchema) }),
      handler: async ({ params, query }) => ({
        commits: await data.log(params.project, params.repo, query.ref, query.limit ?? 50),
      }),
    }),
    route({
      id: 'getCommit',
      method: 'GET',
      path: '/projects/:project/repos/:repo/commits/:ref',
      permission: 'read',
      tag: 'data',
      summary: 'Show a commit',
      params: CommitParams,
      response: CommitSchema,
      handler: async ({ params }) => data.resolveCommit(params.project, params.repo, params.ref),
    }),
    route({
      id: 'listTree',
      method: 'GET',
      path: '/projects/:project/repos/:repo/commits/:ref/tree',
      permission: 'read',
      tag: 'data',
      summary: 'List a folder (default the root) at a commit; recursive lists every file below it',
      params: CommitParams,
      query: z.strictObject({ path: z.string().max(1024).optional(), recursive: z.enum(['true', 'false']).optional() }),
      response: z.object({ commit: CommitSchema, entries: z.array(EntrySchema) }),
      handler: async ({ params, query }) =>
        data.tree(
          params.project,
          params.repo,
          params.ref,
          checkDataPrefix(query.path, 'query.path'),
          query.recursive === 'true',
        ),
    }),
    route({
      id: 'downloadFile',
      method: 'GET',
      path: '/projects/:project/repos/:repo/commits/:ref/file',
      permission: 'read',
      tag: 'data',
      summary:
        'Download a file at a commit (verified against its sha256 while streaming; the digest is in x-checksum-sha256)',
      params: CommitParams,
      query: z.strictObject({ path: z.string().min(1).max(1024) }),
      response: 'stream',
      handler: async ({ params, query, res }) => {
        const path = checkDataPath(query.path, 'query.path');
        const { commit, file, stream } = await data.openFile(params.project, params.repo, params.ref, path);
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': file.size,
          'content-disposition': `attachment; filename="${basename(path).replace(/[^\w.-]/g, '_')}"`,
          'x-checksum-sha256': file.sha256,
          'x-modelport-commit': commit.id,
        });
        try {
          for await (const chunk of stream) {
            if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
          }
          res.end();
        } catch (error) {
          // Headers are gone: a digest mismatch can only cut the response short, which the client detects.
          res.destroy(error as Error);
        }
      },
    }),
    route({
      id: 'getProfile',
      method: 'GET',
      path: '/projects/:project/repos/:repo/commits/:ref/profile',
      permission: 'read',
      tag: 'data',
      summary: 'The profile of a tabular file at a commit (state pending until the background profiler is done)',
      params: CommitParams,
      query: z.strictObject({ path: z.string().min(1).max(1024) }),
      response: ProfileSchema,
      handler: async ({ params, query }) =>
        data.profile(params.project, params.repo, params.ref, checkDataPath(query.path, 'query.path')),
    }),
    route({
      id: 'diffCommits',
      method: 'GET',
      path: '/projects/:project/repos/:repo/diff',
      permission: 'read',
      tag: 'data',
      summary: 'Files added, removed and changed between two commits, with sizes',
      params: RepoParams,
      query: z.strictObject({
        from: Ref,
        to: Ref,
        limit: z.coerce.number().int().min(0).max(1_000_000).optional().describe('Entries per list (default 10000)'),
      }),
      response: z.object({
        repo: z.string(),
        from: z.string().nullable(),
        to: z.string(),
        added: z.array(DiffEntrySchema),
        removed: z.array(DiffEntrySchema),
        changed: z.array(DiffEntrySchema),
        totals: z.object({
          added: z.number().int(),
          removed: z.number().int(),
          changed: z.number().int(),
          bytesAdded: z.number().int(),
          bytesRemoved: z.number().int(),
        }),
        truncated: z.boolean(),
      }),
      handler: async ({ params, query }) => data.diff(params.project, params.repo, query.from, query.to, query.limit),
    }),
    route({
      id: 'listEvents',
      method: 'GET',
      path: '/events',
      permission: 'admin',
      tag: 'data',
      summary: 'Events after a cursor, oldest first (data.commit, ...); consumers keep the last id they handled',
      query: z.strictObject({
        after: z.coerce.number().int().min(0).optional(),
        type: z.string().max(64).optional(),
        limit: z.coerce.number().int().min(1).max(1000).optional(),
      }),
      response: z.object({
        events: z.array(
          z.object({
            id: z.number().int(),
            type: z.string(),
            subject: z.string(),
            payload: z.record(z.string(), z.unknown()),
            createdAt: z.string(),
          }),
        ),
      }),
      handler: async ({ query }) => ({ events: await data.events(query) }),
    }),
    route({
      id: 'collectGarbage',
      method: 'POST',
      path: '/gc',
      permission: 'admin',
      tag: 'data',
      summary:
        'Remove contents nothing names (data files, trees, model artifacts, job files) and unreachable data commits; spares anything newer than the grace period',
      body: z.strictObject({
        graceSeconds: z
          .number()
          .int()
          .min(0)
          .max(365 * 86400)
          .optional()
          .describe('Default 3600'),
        dryRun: z.boolean().optional(),
      }),
      response: z.object({
        dryRun: z.boolean(),
        graceSeconds: z.number().int(),
        blobsScanned: z.number().int(),
        blobsKept: z.number().int(),
        blobsDeleted: z.number().int(),
        bytesFreed: z.number().int(),
        commitsDeleted: z.number().int(),
        blobsTooYoung: z.number().int(),
        elapsedMs: z.number().int(),
      }),
      handler: async ({ body }) =>
        gc({
          ...(body.graceSeconds !== undefined ? { graceMs: body.graceSeconds * 1000 } : {}),
          ...(body.dryRun !== undefined ? { dryRun: body.dryRun } : {}),
        }),
    }),
  ];
}
