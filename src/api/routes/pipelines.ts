/**
 * Routes of pipelines and runs: upload a pipeline's code folder (a tar), apply, list, show, delete, trigger; list
 * and show runs, cancel, resume, and follow a run's logs as Server-Sent Events.
 */
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { z } from 'zod';
import { ModelportError } from '../../core/index.ts';
import { readTar } from '../../data/index.ts';
import { tooLarge } from '../../http/index.ts';
import { type PipelineService, PipelineSpecSchema, RUN_STATES } from '../../pipelines/index.ts';
import type { ArtifactStore } from '../../store/index.ts';
import { spoolToFile } from '../../store/index.ts';
import { route } from '../route.ts';
import { Name, ProjectParams } from '../schemas.ts';

export interface PipelineRoutesDeps {
  pipelines: PipelineService;
  artifacts: ArtifactStore;
  uploadDir: string;
}

const PipelineParams = z.strictObject({ project: Name, name: Name });
const RunParams = z.strictObject({
  project: Name,
  run: z.string().min(1).max(100).describe('A run id (or a unique prefix of 8+ characters), or <pipeline>#<number>'),
});
const Code = z.object({ sha256: z.string(), size: z.number().int() });
const State = z.enum(RUN_STATES);

const TriggerSchema = z.union([
  z.object({ kind: z.literal('data'), event: z.number(), repo: z.string(), branch: z.string(), commit: z.string() }),
  z.object({
    kind: z.literal('model'),
    event: z.number(),
    model: z.string(),
    version: z.number(),
    alias: z.string().optional(),
  }),
  z.object({
    kind: z.literal('schedule'),
    tick: z.string(),
    repo: z.string().optional(),
    commit: z.string().optional(),
  }),
  z.object({ kind: z.literal('manual'), by: z.string(), repo: z.string().optional(), commit: z.string().optional() }),
  z.object({
    kind: z.literal('webhook'),
    delivery: z.string(),
    event: z.string().optional(),
    repo: z.string().optional(),
    commit: z.string().optional(),
  }),
]);

const PolicySchema = z.object({
  expression: z.string(),
  passed: z.boolean(),
  explanation: z.string(),
  values: z.array(z.object({ path: z.string(), value: z.unknown() })),
});

export const RunSchema = z.object({
  id: z.string(),
  project: z.string(),
  pipeline: z.string(),
  number: z.number().int(),
  revision: z.number().int(),
  state: State,
  reason: z.string().nullable(),
  trigger: TriggerSchema,
  params: z.record(z.string(), z.string()),
  attempt: z.number().int(),
  steps: z.array(
    z.object({
      name: z.string(),
      kind: z.string(),
      needs: z.array(z.string()),
      state: State,
      reason: z.string().nullable(),
      attempt: z.number().int(),
      restarts: z.number().int(),
      exitCode: z.number().int().nullable(),
      outputs: z.array(z.string()),
      metrics: z.record(z.string(), z.number()),
      result: z
        .object({
          policy: PolicySchema.optional(),
          registered: z.object({ model: z.string(), version: z.number(), ref: z.string() }).optional(),
          deployed: z
            .object({
              deployment: z.string(),
              url: z.string(),
              revision: z.number(),
              canary: z.object({ weight: z.number(), promoted: z.boolean() }).optional(),
            })
            .optional(),
          notified: z.object({ url: z.string(), status: z.number() }).optional(),
          confusion: z.array(z.array(z.number())).optional(),
          rows: z.number().optional(),
        })
        .nullable(),
      log: z.object({ size: z.number(), cut: z.boolean() }).nullable(),
      startedAt: z.string().nullable(),
      finishedAt: z.string().nullable(),
    }),
  ),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});

export const PipelineSchema = z.object({
  project: z.string(),
  name: z.string(),
  revision: z.number().int(),
  spec: PipelineSpecSchema,
  code: Code.nullable(),
  codeRef: z.string().nullable(),
  runs: z.number().int(),
  lastRun: z.object({ id: z.string(), number: z.number().int(), state: State, createdAt: z.string() }).nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export function pipelineRoutes({ pipelines, artifacts, uploadDir }: PipelineRoutesDeps) {
  return [
    route({
      id: 'uploadPipelineCode',
      method: 'POST',
      path: '/projects/:project/pipelines/code',
      permission: 'write',
      alsoNeeds: { permission: 'code', when: 'always: the code runs on this server or its cluster' },
      tag: 'pipelines',
      summary:
        "Upload a pipeline's code folder as a tar (what `pipelines apply -f` packs: node_modules and .git left out); returns its sha256 for apply",
      params: ProjectParams,
      body: { stream: 'application/octet-stream' },
      status: 201,
      response: Code,
      handler: async ({ req, signal, require }) => {
        require('code');
        const max = pipelines.maxCodeBytes;
        if (Number(req.headers['content-length']) > max) throw tooLarge(max);
        const spooled = await spoolToFile(req, { dir: uploadDir, maxBytes: max, signal });
        try {
          // A tar the runner can unpack, or refused now rather than at the first run.
          for await (const entry of readTar(createReadStream(spooled.path))) {
            if (entry.path.split('/').some((part) => part === '..' || part === '') || entry.path.startsWith('/')) {
              throw new ModelportError('invalid_request', `body: the path '${entry.path}' leaves the folder`, {
                field: 'body',
              });
            }
          }
          return await artifacts.putFile(spooled.path, { signal });
        } finally {
          await rm(spooled.path, { force: true });
        }
      },
    }),
    route({
      id: 'applyPipeline',
      method: 'PUT',
      path: '/projects/:project/pipelines',
      // Runs the spec's commands on this server or its cluster: code that runs on the server.
      permission: 'write',
      alsoNeeds: { permission: 'code', when: 'always: its commands run on this server or its cluster' },
      tag: 'pipelines',
      summary: 'Create or change a pipeline from its spec (a new revision when the spec or code changed)',
      params: ProjectParams,
      body: z.strictObject({
        spec: z.record(z.string(), z.unknown()),
        code: z.strictObject({ sha256: z.string() }).optional(),
        codeRef: z.string().max(80).optional(),
      }),
      response: PipelineSchema.extend({ changed: z.boolean() }),
      handler: async ({ params, body, require }) => {
        require('code');
        return pipelines.apply(params.project, body);
      },
    }),
    route({
      id: 'listPipelines',
      method: 'GET',
      path: '/projects/:project/pipelines',
      permission: 'read',
      tag: 'pipelines',
      summary: 'List the pipelines of a project with their last run',
      params: ProjectParams,
      response: z.object({ pipelines: z.array(PipelineSchema) }),
      handler: async ({ params }) => ({ pipelines: await pipelines.list(params.project) }),
    }),
    route({
      id: 'getPipeline',
      method: 'GET',
      path: '/projects/:project/pipelines/:name',
      permission: 'read',
      tag: 'pipelines',
      summary: 'Show a pipeline: its latest spec, code and revisions',
      params: PipelineParams,
      response: PipelineSchema.extend({
        revisions: z.array(
          z.object({
            revision: z.number().int(),
            code: Code.nullable(),
            codeRef: z.string().nullable(),
            createdAt: z.string(),
          }),
        ),
      }),
      handler: async ({ params }) => ({
        ...(await pipelines.get(params.project, params.name)),
        revisions: (await pipelines.revisions(params.project, params.name)).map(({ spec: _spec, ...r }) => r),
      }),
    }),
    route({
      id: 'deletePipeline',
      method: 'DELETE',
      path: '/projects/:project/pipelines/:name',
      permission: 'write',
      tag: 'pipelines',
      summary: 'Delete a pipeline, cancelling its active runs; its runs go with it',
      params: PipelineParams,
      response: 'empty',
      handler: async ({ params }) => pipelines.delete(params.project, params.name),
    }),
    route({
      id: 'triggerPipeline',
      method: 'POST',
      path: '/projects/:project/pipelines/:name/runs',
      permission: 'write',
      tag: 'pipelines',
      summary: "Start a run by hand (on the head of the data trigger's branch, when it has one)",
      params: PipelineParams,
      body: z.strictObject({ params: z.record(z.string().max(64), z.string().max(4096)).optional() }),
      status: 201,
      response: RunSchema,
      handler: async ({ params, body, principal }) =>
        pipelines.trigger(params.project, params.name, principal.subject, body.params ?? {}),
    }),
    route({
      id: 'listRuns',
      method: 'GET',
      path: '/projects/:project/runs',
      permission: 'read',
      tag: 'pipelines',
      summary: 'List runs, newest first (optionally of one pipeline)',
      params: ProjectParams,
      query: z.strictObject({
        pipeline: Name.optional(),
        limit: z.coerce.number().int().min(1).max(500).optional(),
      }),
      response: z.object({ runs: z.array(RunSchema) }),
      handler: async ({ params, query }) => ({ runs: await pipelines.listRuns(params.project, query) }),
    }),
    route({
      id: 'getRun',
      method: 'GET',
      path: '/projects/:project/runs/:run',
      permission: 'read',
      tag: 'pipelines',
      summary:
        "Show a run: its trigger, each step's state, exit code, outputs, metrics and result (the gate's explanation)",
      params: RunParams,
      response: RunSchema,
      handler: async ({ params }) => pipelines.getRun(params.project, params.run),
    }),
    route({
      id: 'cancelRun',
      method: 'POST',
      path: '/projects/:project/runs/:run/cancel',
      permission: 'write',
      tag: 'pipelines',
      summary: "Cancel a pending or running run (its steps' processes or Jobs are killed within 2 s)",
      params: RunParams,
      response: RunSchema,
      handler: async ({ params }) => pipelines.cancel(params.project, params.run),
    }),
    route({
      id: 'resumeRun',
      method: 'POST',
      path: '/projects/:project/runs/:run/resume',
      permission: 'write',
      tag: 'pipelines',
      summary: 'Run a failed or cancelled run again from its failed steps, reusing the outputs of those that succeeded',
      params: RunParams,
      response: RunSchema,
      handler: async ({ params }) => pipelines.resume(params.project, params.run),
    }),
    route({
      id: 'runLogs',
      method: 'GET',
      path: '/projects/:project/runs/:run/logs',
      permission: 'read',
      tag: 'pipelines',
      summary:
        'A run\'s logs as Server-Sent Events: `step` ({"step"}), `log` (a JSON string of output), `end` ({"state"}); follow=true streams live until the run ends',
      params: RunParams,
      query: z.strictObject({
        step: Name.optional(),
        follow: z.enum(['true', 'false']).optional(),
      }),
      response: 'stream',
      handler: async ({ params, query, res, signal }) => {
        const run = await pipelines.getRun(params.project, params.run);
        const steps = query.step === undefined ? run.steps.map((s) => s.name) : [query.step];
        if (query.step !== undefined && !run.steps.some((s) => s.name === query.step)) {
          throw new ModelportError('not_found', `run #${run.number} has no step '${query.step}'`, { field: 'step' });
        }
        const follow = query.follow === 'true';
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          'x-accel-buffering': 'no',
        });
        const send = (event: string, data: unknown) => {
          res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        };
        for (const step of steps) {
          if (signal.aborted) break;
          send('step', { step });
          const outcome = await pipelines.followLog(
            params.project,
            run.id,
            step,
            (chunk) => send('log', chunk.toString('utf8')),
            { follow, signal },
          );
          if (outcome === 'not-started') send('log', '');
        }
        const final = await pipelines.getRun(params.project, run.id);
        send('end', { state: final.state, reason: final.reason });
        res.end();
      },
    }),
  ];
}
