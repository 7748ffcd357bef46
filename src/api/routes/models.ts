/** Routes of the model registry: projects, models, versions, aliases. */
import { rm } from 'node:fs/promises';
import { z } from 'zod';
import { can } from '../../auth/index.ts';
import type { ModelRef, ModelSignature } from '../../core/index.ts';
import { checkName, ModelportError } from '../../core/index.ts';
import { tooLarge } from '../../http/index.ts';
import { type DownloadDeps, downloadModel, sniffFormat, sourceLabel } from '../../imports/index.ts';
import type { ModelRegistry, ModelVersion } from '../../registry/index.ts';
import { compileFriendlySignature, parseFriendlySignature } from '../../signatures/index.ts';
import { spoolToFile } from '../../store/index.ts';
import { repeated, route } from '../route.ts';
import {
  AliasParams,
  FriendlySignatureSchema,
  Metrics,
  ModelParams,
  ModelSchema,
  ModelVersionSchema,
  Name,
  ProjectParams,
  ProjectSchema,
  Tags,
  VersionParams,
} from '../schemas.ts';

export interface ModelRoutesDeps {
  registry: ModelRegistry;
  /** Where uploads are spooled and checked before they enter the artifact store. */
  uploadDir: string;
  maxUploadBytes: number;
  /** How `POST .../import` fetches a URL: an egress guard built for imports, and the server's S3 connection. */
  imports: Pick<DownloadDeps, 'guard' | 's3'>;
  /**
   * Renders a version's Docker build context but its artifact (src/backends/build/); the build-context route exists
   * with it.
   */
  buildContext?: (version: ModelVersion, options: { baseImage?: string | undefined }) => Promise<BuildContextAnswer>;
}

/** What `GET .../build-context` answers: every file of the context, and where the artifact goes in it. */
export interface BuildContextAnswer {
  image: string;
  files: { path: string; content: string; mode: number }[];
  artifact: { path: string; sha256: string; size: number };
}

const BuildContextSchema = z.object({
  model: z.string(),
  version: z.number(),
  modelType: z.string(),
  image: z.string().describe('the base image the Dockerfile builds on'),
  createdAt: z.string().describe("the version's creation time: every file's mtime, for a reproducible context"),
  files: z.array(z.object({ path: z.string(), content: z.string(), mode: z.number().int() })),
  artifact: z
    .object({ path: z.string(), sha256: z.string(), size: z.number() })
    .describe('where the model file goes in the context; download it from the artifact route'),
});

const Format = z
  .enum(['onnx', 'js', 'hosted'])
  .describe('onnx, js for a js model folder as a .tgz, or hosted for a hosted-model descriptor (default: by content)');

/** `k=v` pairs from repeated query parameters, each value checked by `value`. */
function pairs<T>(items: string[], field: string, value: (raw: string, key: string) => T): Record<string, T> {
  const out: Record<string, T> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) {
      throw new ModelportError('invalid_request', `${field}: '${item}' is not key=value`, { field: `query.${field}` });
    }
    const key = item.slice(0, eq);
    out[key] = value(item.slice(eq + 1), key);
  }
  return out;
}

function parseJson(text: string, field: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ModelportError('invalid_request', `${field}: not valid JSON`, { field });
  }
}

const toRef = (model: string, version: string): ModelRef =>
  /^\d+$/.test(version)
    ? { name: model, version: Number(version) }
    : version.startsWith('commit:')
      ? { name: model, commit: version.slice('commit:'.length) }
      : { name: model, alias: version };

export function modelRoutes({ registry, uploadDir, maxUploadBytes, imports, buildContext }: ModelRoutesDeps) {
  return [
    route({
      id: 'listProjects',
      method: 'GET',
      path: '/projects',
      permission: 'read',
      tag: 'projects',
      summary: 'List the projects you have a role on (all of them for the server admin)',
      response: z.object({ projects: z.array(ProjectSchema) }),
      handler: async ({ principal }) => ({
        projects: (await registry.listProjects()).filter((p) => can(principal, 'read', p.name)),
      }),
    }),
    route({
      id: 'createProject',
      method: 'POST',
      path: '/projects',
      permission: 'admin',
      tag: 'projects',
      summary: 'Create a project',
      body: z.strictObject({ name: Name }),
      status: 201,
      response: ProjectSchema,
      handler: async ({ body }) => registry.createProject(body.name),
    }),
    route({
      id: 'listModels',
      method: 'GET',
      path: '/projects/:project/models',
      permission: 'read',
      tag: 'models',
      summary: 'List models, optionally filtered by a name fragment',
      params: ProjectParams,
      query: z.strictObject({ q: z.string().max(63).optional() }),
      response: z.object({ models: z.array(ModelSchema) }),
      handler: async ({ params, query }) => ({ models: await registry.listModels(params.project, query.q) }),
    }),
    route({
      id: 'getModel',
      method: 'GET',
      path: '/projects/:project/models/:model',
      permission: 'read',
      tag: 'models',
      summary: 'Show a model with its aliases',
      params: ModelParams,
      response: ModelSchema,
      handler: async ({ params }) => registry.getModel(params.project, params.model),
    }),
    route({
      id: 'deleteModel',
      method: 'DELETE',
      path: '/projects/:project/models/:model',
      permission: 'admin',
      tag: 'models',
      summary: 'Delete a model and all its versions (refused while a deployment uses one)',
      params: ModelParams,
      status: 204,
      response: 'empty',
      handler: async ({ params }) => {
        await registry.deleteModel(params.project, params.model);
      },
    }),
    route({
      id: 'listVersions',
      method: 'GET',
      path: '/projects/:project/models/:model/versions',
      permission: 'read',
      tag: 'models',
      summary: 'List the versions of a model',
      params: ModelParams,
      response: z.object({ versions: z.array(ModelVersionSchema) }),
      handler: async ({ params }) => ({ versions: await registry.listVersions(params.project, params.model) }),
    }),
    route({
      id: 'registerVersion',
      method: 'POST',
      path: '/projects/:project/models/:model/versions',
      permission: 'write',
      alsoNeeds: { permission: 'code', when: 'the model is a js model (code that runs on the server)' },
      tag: 'models',
      summary:
        'Register a new version: the body is the ONNX file or a js model .tgz; it is checked (loaded in a child process) before anything is stored',
      params: ModelParams,
      query: z.strictObject({
        format: Format.optional(),
        description: z.string().max(4096).optional(),
        alias: repeated(z.string()),
        tag: repeated(z.string()).describe('key=value, repeatable'),
        metric: repeated(z.string()).describe('key=number, repeatable'),
        source: z.string().max(2048).optional(),
        dataCommit: z.string().max(256).optional(),
        pipelineRun: z.string().max(256).optional(),
        signature: z
          .string()
          .max(256 * 1024)
          .optional()
          .describe('The friendly signature as JSON: { features: [...], outputs: { labels, ... } }'),
        type: z
          .string()
          .max(63)
          .optional()
          .describe('The model type of the catalogue (sklearn-1.5, ...); default: the format'),
        image: z
          .string()
          .max(512)
          .optional()
          .describe('An OCI image reference: the version is this image (send no body); container types only'),
        declaredSignature: z
          .string()
          .max(256 * 1024)
          .optional()
          .describe("A container type's tensor signature as JSON: { inputs: [...], outputs: [...] }"),
      }),
      body: { stream: 'application/octet-stream' },
      status: 201,
      response: ModelVersionSchema,
      handler: async ({ params, query, req, signal, require }) => {
        const tags = Tags.parse(pairs(query.tag, 'tag', (v) => v));
        const metrics = Metrics.parse(
          pairs(query.metric, 'metric', (v, key) => {
            const n = Number(v);
            if (v.trim() === '' || !Number.isFinite(n)) {
              throw new ModelportError('invalid_request', `metric '${key}': '${v}' is not a number`, {
                field: 'query.metric',
              });
            }
            return n;
          }),
        );
        const friendly =
          query.signature === undefined ? undefined : parseFriendlySignature(query.signature, 'query.signature');
        const declared =
          query.declaredSignature === undefined
            ? undefined
            : parseJson(query.declaredSignature, 'query.declaredSignature');
        const common = {
          description: query.description,
          tags,
          metrics,
          aliases: query.alias,
          lineage: { source: query.source, dataCommit: query.dataCommit, pipelineRun: query.pipelineRun },
          ...(friendly ? { friendlySignature: friendly } : {}),
          ...(query.type !== undefined ? { modelType: query.type } : {}),
          ...(declared !== undefined ? { declaredSignature: declared as ModelSignature } : {}),
          // A js model runs its code on this server as soon as it is checked: that needs the code permission,
          // whether the format was given, sniffed, or follows from the model type.
          onRuntime: (runtime: string) => {
            if (runtime === 'js') require('code');
          },
        };
        if (query.image !== undefined) {
          // A model image is the version itself: there is no file to receive.
          if (Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined) {
            throw new ModelportError('invalid_request', 'image: a model image version has no file; send no body', {
              field: 'query.image',
            });
          }
          if (query.format !== undefined) {
            throw new ModelportError('invalid_request', 'format: a model image has no file format; leave it out', {
              field: 'query.format',
            });
          }
          return await registry.registerVersion(params.project, params.model, { ...common, image: query.image });
        }
        if (Number(req.headers['content-length']) > maxUploadBytes) throw tooLarge(maxUploadBytes);
        const spooled = await spoolToFile(req, { dir: uploadDir, maxBytes: maxUploadBytes, signal });
        try {
          if (spooled.size === 0) {
            throw new ModelportError('invalid_model', 'the body is empty; send the model file as the request body');
          }
          // A container type's file is never sniffed beyond what storing it needs: no format to guess.
          const format = query.format ?? (query.type === undefined ? await sniffFormat(spooled.path) : undefined);
          return await registry.registerVersion(params.project, params.model, {
            ...common,
            file: spooled.path,
            ...(format !== undefined ? { format } : {}),
          });
        } finally {
          await rm(spooled.path, { force: true });
        }
      },
    }),
    route({
      id: 'importModel',
      method: 'POST',
      path: '/projects/:project/models/:model/import',
      permission: 'write',
      alsoNeeds: { permission: 'code', when: 'the model is a js model (code that runs on the server)' },
      tag: 'models',
      summary:
        'Import a new version from an https:// or s3:// URL: the server downloads it through the egress guard, then registers it',
      params: ModelParams,
      body: z.strictObject({
        url: z.string().min(1).max(4096).describe('https://host/path/model.onnx, a js model .tgz, or s3://bucket/key'),
        format: Format.optional(),
        description: z.string().max(4096).optional(),
        aliases: z.array(z.string()).max(16).optional(),
        tags: Tags.optional(),
      }),
      status: 201,
      response: ModelVersionSchema,
      handler: async ({ params, body, signal, require }) => {
        // Checked before anything is downloaded: a bad name never costs a transfer.
        checkName(params.model, 'model');
        const spooled = await downloadModel(body.url, { ...imports, dir: uploadDir, maxBytes: maxUploadBytes, signal });
        try {
          if (spooled.size === 0) throw new ModelportError('invalid_model', 'url: the download is empty');
          const format = body.format ?? (await sniffFormat(spooled.path));
          if (format === 'js') require('code');
          return await registry.registerVersion(params.project, params.model, {
            file: spooled.path,
            format,
            description: body.description,
            tags: body.tags,
            aliases: body.aliases,
            lineage: { source: sourceLabel(body.url) },
          });
        } finally {
          await rm(spooled.path, { force: true });
        }
      },
    }),
    route({
      id: 'getVersion',
      method: 'GET',
      path: '/projects/:project/models/:model/versions/:version',
      permission: 'read',
      tag: 'models',
      summary: 'Show a version by number or alias',
      params: VersionParams,
      response: ModelVersionSchema,
      handler: async ({ params }) => registry.getVersion(params.project, toRef(params.model, params.version)),
    }),
    route({
      id: 'updateVersion',
      method: 'PATCH',
      path: '/projects/:project/models/:model/versions/:version',
      permission: 'write',
      tag: 'models',
      summary: 'Update the description, and merge tags and metrics, of a version',
      params: VersionParams,
      body: z.strictObject({
        description: z.string().max(4096).optional(),
        tags: Tags.optional(),
        metrics: Metrics.optional(),
      }),
      response: ModelVersionSchema,
      handler: async ({ params, body }) =>
        registry.updateVersion(params.project, toRef(params.model, params.version), body),
    }),
    route({
      id: 'setSignature',
      method: 'PUT',
      path: '/projects/:project/models/:model/versions/:version/signature',
      permission: 'write',
      tag: 'models',
      summary: "Set a version's friendly signature (checked against its tensor signature)",
      params: VersionParams,
      body: FriendlySignatureSchema,
      response: ModelVersionSchema,
      handler: async ({ params, body }) =>
        registry.setFriendlySignature(
          params.project,
          toRef(params.model, params.version),
          compileFriendlySignature(body, 'body'),
        ),
    }),
    route({
      id: 'deleteSignature',
      method: 'DELETE',
      path: '/projects/:project/models/:model/versions/:version/signature',
      permission: 'write',
      tag: 'models',
      summary: "Remove a version's friendly signature",
      params: VersionParams,
      response: ModelVersionSchema,
      handler: async ({ params }) =>
        registry.setFriendlySignature(params.project, toRef(params.model, params.version), null),
    }),
    ...(buildContext
      ? [
          route({
            id: 'getBuildContext',
            method: 'GET',
            path: '/projects/:project/models/:model/versions/:version/build-context',
            permission: 'read',
            tag: 'models',
            summary:
              'A Docker build context for a serving image of the version (Dockerfile, scripts, SBOM), without the artifact; refused for a model that is an image',
            params: VersionParams,
            query: z.strictObject({
              baseImage: z
                .string()
                .optional()
                .describe("one of the model type's images by name (default: the type's default)"),
            }),
            response: BuildContextSchema,
            handler: async ({ params, query }) => {
              const version = await registry.getVersion(params.project, toRef(params.model, params.version));
              const built = await buildContext(version, { baseImage: query.baseImage });
              return {
                model: version.model,
                version: version.version,
                modelType: version.modelType,
                createdAt: version.createdAt,
                ...built,
              };
            },
          }),
        ]
      : []),
    route({
      id: 'deleteVersion',
      method: 'DELETE',
      path: '/projects/:project/models/:model/versions/:version',
      permission: 'admin',
      tag: 'models',
      summary: 'Delete a version (refused while a deployment uses it)',
      params: VersionParams,
      status: 204,
      response: 'empty',
      handler: async ({ params }) => {
        const version = await registry.getVersion(params.project, toRef(params.model, params.version));
        await registry.deleteVersion(params.project, params.model, version.version);
      },
    }),
    route({
      id: 'downloadArtifact',
      method: 'GET',
      path: '/projects/:project/models/:model/versions/:version/artifact',
      permission: 'read',
      tag: 'models',
      summary: 'Download the model file (verified against its sha256 while streaming)',
      params: VersionParams,
      response: 'stream',
      handler: async ({ params, res }) => {
        const version = await registry.getVersion(params.project, toRef(params.model, params.version));
        const stream = await registry.artifacts.open(version.sha256);
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': version.size,
          'content-disposition': `attachment; filename="${version.model}-${version.version}.${version.format === 'js' ? 'tgz' : 'onnx'}"`,
          'x-checksum-sha256': version.sha256,
        });
        for await (const chunk of stream) res.write(chunk);
        res.end();
      },
    }),
    route({
      id: 'setAlias',
      method: 'PUT',
      path: '/projects/:project/models/:model/aliases/:alias',
      permission: 'write',
      tag: 'models',
      summary: 'Point an alias at a version (moves atomically)',
      params: AliasParams,
      body: z.strictObject({ version: z.number().int().positive() }),
      response: ModelSchema,
      handler: async ({ params, body }) => registry.setAlias(params.project, params.model, params.alias, body.version),
    }),
    route({
      id: 'deleteAlias',
      method: 'DELETE',
      path: '/projects/:project/models/:model/aliases/:alias',
      permission: 'write',
      tag: 'models',
      summary: 'Remove an alias',
      params: AliasParams,
      status: 204,
      response: 'empty',
      handler: async ({ params }) => {
        await registry.deleteAlias(params.project, params.model, params.alias);
      },
    }),
  ];
}
