/**
 * The model registry: projects, models, numbered versions and aliases, over the metadata store and the artifact
 * store.
 *
 * Ordering rules that keep the stores consistent after a crash at any point:
 * - a version's file is checked (inspected) before anything is stored, and written to the artifact store before
 *   the row that points at it, so a row never points at a missing artifact;
 * - version numbers come from `models.latest_version`, bumped inside the same write transaction as the insert, so
 *   concurrent registrations get 1, 2, 3 ... with no gaps or duplicates, and a number is never reused;
 * - artifacts are never deleted here: models and data share one content-addressed store, so only `modelport gc`
 *   (src/gc), which sees every reference, removes a blob; the registry claims each artifact before storing it
 *   (`BlobGuard.protect`) so a sweep running meanwhile spares it. An orphan blob is harmless; a dangling row is not.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { ModelSignature } from '../core/index.ts';
import { checkAlias, checkName, ModelportError, type ModelRef, notFound, parseImageReference } from '../core/index.ts';
import { bindFriendlySignature, checkDeclaredSignature, type FriendlySignature } from '../signatures/index.ts';
import { type ArtifactStore, type Database, type ModelVersionsTable, projectIdOf } from '../store/index.ts';
import type {
  Model,
  ModelInspector,
  ModelTypeLookup,
  ModelVersion,
  Project,
  RegisterVersionInput,
  VersionUsage,
} from './types.ts';

/** The slice of the metadata store the registry needs. */
export interface RegistryStore {
  db: Kysely<Database>;
  transaction<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T>;
}

/** Checks a `dataCommit` lineage reference (`repo@ref`) and returns it pinned to the full commit id. */
export interface DataLineage {
  pin(project: string, value: string, field: string): Promise<string>;
}

export interface ModelRegistryDeps {
  store: RegistryStore;
  artifacts: ArtifactStore;
  inspector: ModelInspector;
  usage?: VersionUsage;
  /** Refuses a `dataCommit` that names no data commit of the project. Without it the field is stored as given. */
  lineage?: DataLineage;
  /** Claims artifacts for a concurrent garbage collection (src/gc). */
  guard?: { protect(sha256s: readonly string[]): Promise<void> };
  /** The model-type catalogue; without it only the onnx, js and hosted types register. */
  modelTypes?: ModelTypeLookup;
  /**
   * Appends a domain event inside the registry's transaction (`model.version` when a version is registered,
   * `model.alias` when an alias moves), so that pipelines triggered by models start exactly once.
   */
  events?: (trx: Transaction<Database>, event: RegistryEvent, now: Date) => Promise<void>;
  now?: () => Date;
}

/** What the registry reports to the events table. */
export interface RegistryEvent {
  type: 'model.version' | 'model.alias';
  subject: string;
  payload: { project: string; model: string; version: number; alias?: string };
}

type VersionRow = Selectable<ModelVersionsTable>;

export class ModelRegistry {
  readonly #db: Kysely<Database>;
  readonly #store: RegistryStore;
  readonly #artifacts: ArtifactStore;
  readonly #inspector: ModelInspector;
  #usage: VersionUsage | undefined;
  readonly #lineage: DataLineage | undefined;
  readonly #guard: ModelRegistryDeps['guard'];
  readonly #modelTypes: ModelTypeLookup | undefined;
  readonly #now: () => Date;

  readonly #events: ModelRegistryDeps['events'];

  constructor(deps: ModelRegistryDeps) {
    this.#events = deps.events;
    this.#store = deps.store;
    this.#db = deps.store.db;
    this.#artifacts = deps.artifacts;
    this.#inspector = deps.inspector;
    this.#usage = deps.usage;
    this.#lineage = deps.lineage;
    this.#guard = deps.guard;
    this.#modelTypes = deps.modelTypes;
    this.#now = deps.now ?? (() => new Date());
  }

  /** Late wiring: deployments are built after the registry they depend on. */
  setUsage(usage: VersionUsage): void {
    this.#usage = usage;
  }

  get artifacts(): ArtifactStore {
    return this.#artifacts;
  }

  // Projects

  async listProjects(): Promise<Project[]> {
    const rows = await this.#db.selectFrom('projects').select(['name', 'created_at']).orderBy('name').execute();
    return rows.map((r) => ({ name: r.name, createdAt: r.created_at }));
  }

  async createProject(name: string): Promise<Project> {
    checkName(name, 'name');
    const createdAt = this.#stamp();
    const inserted = await this.#db
      .insertInto('projects')
      .values({ id: randomUUID(), name, created_at: createdAt })
      .onConflict((oc) => oc.column('name').doNothing())
      .returning('name')
      .executeTakeFirst();
    if (!inserted) throw new ModelportError('already_exists', `project '${name}' already exists`, { field: 'name' });
    return { name, createdAt };
  }

  /**
   * Deletes an empty project with its memberships; `conflict` while it holds models, deployments, jobs or secrets
   * (delete those first). The default project stays.
   */
  async deleteProject(name: string): Promise<void> {
    if (name === 'default') {
      throw new ModelportError('conflict', "the project 'default' cannot be deleted; the gateway serves from it", {
        field: 'project',
      });
    }
    await this.#store.transaction(async (trx) => {
      const row = await trx.selectFrom('projects').select('id').where('name', '=', name).executeTakeFirst();
      if (!row) throw notFound(`project '${name}'`, 'project');
      for (const table of ['models', 'deployments', 'jobs', 'secrets'] as const) {
        const used = await trx
          .selectFrom(table)
          .select('project_id')
          .where('project_id', '=', row.id)
          .limit(1)
          .execute();
        if (used.length > 0) {
          throw new ModelportError('conflict', `project '${name}' still has ${table}; delete them first`, {
            field: 'project',
          });
        }
      }
      await trx.deleteFrom('project_members').where('project_id', '=', row.id).execute();
      await trx.deleteFrom('projects').where('id', '=', row.id).execute();
    });
  }

  // Models

  async listModels(project: string, search?: string): Promise<Model[]> {
    const projectId = await this.#projectId(project);
    let query = this.#db.selectFrom('models').selectAll().where('project_id', '=', projectId);
    if (search) query = query.where('name', 'like', `%${search.replace(/[%_\\]/g, '')}%`);
    const models = await query.orderBy('name').execute();
    if (models.length === 0) return [];
    const ids = models.map((m) => m.id);
    const [stats, aliases] = await Promise.all([
      this.#db
        .selectFrom('model_versions')
        .select((eb) => ['model_id', eb.fn.max('version').as('latest'), eb.fn.countAll<number>().as('count')])
        .where('model_id', 'in', ids)
        .groupBy('model_id')
        .execute(),
      this.#db.selectFrom('model_aliases').selectAll().where('model_id', 'in', ids).orderBy('alias').execute(),
    ]);
    return models.map((m) => {
      const stat = stats.find((s) => s.model_id === m.id);
      return {
        project,
        name: m.name,
        description: m.description,
        latestVersion: stat?.latest == null ? null : Number(stat.latest),
        versionCount: Number(stat?.count ?? 0),
        aliases: Object.fromEntries(aliases.filter((a) => a.model_id === m.id).map((a) => [a.alias, a.version])),
        createdAt: m.created_at,
        updatedAt: m.updated_at,
      };
    });
  }

  async getModel(project: string, name: string): Promise<Model> {
    checkName(name, 'model');
    const found = (await this.listModels(project)).find((m) => m.name === name);
    if (!found) throw notFound(`model '${name}' in project '${project}'`, 'model');
    return found;
  }

  // Versions

  async registerVersion(project: string, name: string, input: RegisterVersionInput): Promise<ModelVersion> {
    checkName(name, 'model');
    const aliases = (input.aliases ?? []).map((a) => checkAlias(a));
    const projectId = await this.#projectId(project);
    const given = input.lineage?.dataCommit;
    const dataCommit =
      given === undefined || given === null || this.#lineage === undefined
        ? (given ?? null)
        : await this.#lineage.pin(project, given, 'dataCommit');
    const kind = await this.#kindOf(input);
    const { format, modelType } = kind;
    input.onRuntime?.(kind.runtime);

    // Checked in full before anything is stored. A container type's file is data to Modelport: stored and
    // checksummed, never opened (a pickle runs code when loaded; only the type's base image ever loads it).
    const signature =
      kind.runtime === 'container'
        ? (input.declaredSignature as ModelSignature)
        : await this.#inspector.inspect(input.file as string, format);
    const friendly = input.friendlySignature ? bindFriendlySignature(input.friendlySignature, signature) : null;
    const guard = this.#guard;
    const claim = guard ? { onHashed: (ref: { sha256: string }) => guard.protect([ref.sha256]) } : {};
    const artifact =
      kind.image !== undefined
        ? // The version's identity: a small descriptor, so downloads and checksums work as for any version.
          await this.#artifacts.put(Readable.from([Buffer.from(`${JSON.stringify({ image: kind.image })}\n`)]), claim)
        : await this.#artifacts.putFile(input.file as string, claim);

    const now = this.#stamp();
    const version = await this.#store.transaction(async (trx) => {
      await trx
        .insertInto('models')
        .values({
          id: randomUUID(),
          project_id: projectId,
          name,
          description: '',
          latest_version: 0,
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) => oc.columns(['project_id', 'name']).doNothing())
        .execute();
      const model = await trx
        .updateTable('models')
        .set((eb) => ({ latest_version: eb('latest_version', '+', 1), updated_at: now }))
        .where('project_id', '=', projectId)
        .where('name', '=', name)
        .returning(['id', 'latest_version'])
        .executeTakeFirstOrThrow();
      await trx
        .insertInto('model_versions')
        .values({
          id: randomUUID(),
          model_id: model.id,
          version: model.latest_version,
          format,
          model_type: modelType,
          image: kind.image ?? null,
          artifact_sha256: artifact.sha256,
          artifact_size: artifact.size,
          signature: JSON.stringify(signature),
          friendly_signature: friendly ? JSON.stringify(friendly) : null,
          description: input.description ?? '',
          tags: JSON.stringify(input.tags ?? {}),
          metrics: JSON.stringify(input.metrics ?? {}),
          source: input.lineage?.source ?? null,
          data_commit: dataCommit,
          pipeline_run: input.lineage?.pipelineRun ?? null,
          created_at: now,
        })
        .execute();
      for (const alias of aliases) await this.#upsertAlias(trx, model.id, alias, model.latest_version, now);
      if (this.#events) {
        const payload = { project, model: name, version: model.latest_version };
        await this.#events(
          trx,
          { type: 'model.version', subject: `${project}/${name}@${model.latest_version}`, payload },
          new Date(now),
        );
        for (const alias of aliases) {
          await this.#events(
            trx,
            { type: 'model.alias', subject: `${project}/${name}@${alias}`, payload: { ...payload, alias } },
            new Date(now),
          );
        }
      }
      return model.latest_version;
    });
    return this.getVersion(project, { name, version });
  }

  async listVersions(project: string, name: string): Promise<ModelVersion[]> {
    const model = await this.#modelRow(project, name);
    const [rows, aliases] = await Promise.all([
      this.#db.selectFrom('model_versions').selectAll().where('model_id', '=', model.id).orderBy('version').execute(),
      this.#aliasesOf(model.id),
    ]);
    return rows.map((row) => toVersion(project, name, row, aliases));
  }

  /** Resolves `name`, `name@3` or `name@alias`; the bare name means the highest existing version. */
  async getVersion(project: string, ref: ModelRef): Promise<ModelVersion> {
    const model = await this.#modelRow(project, ref.name);
    const aliases = await this.#aliasesOf(model.id);
    let version = ref.version;
    if (ref.alias !== undefined) {
      version = aliases.get(ref.alias);
      if (version === undefined) throw notFound(`alias '${ref.alias}' of model '${ref.name}'`, 'alias');
    }
    if (ref.commit !== undefined) {
      const matches = await this.#db
        .selectFrom('model_versions')
        .select('version')
        .where('model_id', '=', model.id)
        .where('data_commit', 'like', `%@${ref.commit}%`)
        .orderBy('version', 'desc')
        .execute();
      if (matches.length === 0) {
        throw notFound(`a version of model '${ref.name}' trained on data commit ${ref.commit}`, 'version');
      }
      // Several versions of one commit (a re-run): the newest.
      version = matches[0]!.version;
    }
    let query = this.#db.selectFrom('model_versions').selectAll().where('model_id', '=', model.id);
    query = version === undefined ? query.orderBy('version', 'desc').limit(1) : query.where('version', '=', version);
    const row = await query.executeTakeFirst();
    if (!row) {
      throw version === undefined
        ? notFound(`model '${ref.name}' has no versions; it`, 'model')
        : notFound(`version ${version} of model '${ref.name}'`, 'version');
    }
    return toVersion(project, ref.name, row, aliases);
  }

  /**
   * The versions whose lineage names this data commit (`repo@<full id>`, as registered) or this pipeline run, oldest
   * first: what a commit or a run reached (the lineage query walks down from them).
   */
  async versionsFrom(project: string, from: { dataCommit: string } | { pipelineRun: string }): Promise<ModelVersion[]> {
    const projectId = await this.#projectId(project);
    let query = this.#db
      .selectFrom('model_versions')
      .innerJoin('models', 'models.id', 'model_versions.model_id')
      .selectAll('model_versions')
      .select(['models.name as model_name'])
      .where('models.project_id', '=', projectId);
    query =
      'dataCommit' in from
        ? query.where('model_versions.data_commit', '=', from.dataCommit)
        : query.where('model_versions.pipeline_run', '=', from.pipelineRun);
    const rows = await query.orderBy('model_versions.created_at').orderBy('model_versions.version').execute();
    const aliases = new Map<string, Map<string, number>>();
    const out: ModelVersion[] = [];
    for (const row of rows) {
      let named = aliases.get(row.model_id);
      if (!named) {
        named = await this.#aliasesOf(row.model_id);
        aliases.set(row.model_id, named);
      }
      out.push(toVersion(project, row.model_name, row, named));
    }
    return out;
  }

  async updateVersion(
    project: string,
    ref: ModelRef,
    patch: { description?: string; tags?: Record<string, string>; metrics?: Record<string, number> },
  ): Promise<ModelVersion> {
    const current = await this.getVersion(project, ref);
    const model = await this.#modelRow(project, ref.name);
    await this.#db
      .updateTable('model_versions')
      .set({
        ...(patch.description !== undefined ? { description: patch.description } : {}),
        ...(patch.tags !== undefined ? { tags: JSON.stringify({ ...current.tags, ...patch.tags }) } : {}),
        ...(patch.metrics !== undefined ? { metrics: JSON.stringify({ ...current.metrics, ...patch.metrics }) } : {}),
      })
      .where('model_id', '=', model.id)
      .where('version', '=', current.version)
      .execute();
    return this.getVersion(project, { name: ref.name, version: current.version });
  }

  /**
   * Sets (or, with null, removes) a version's friendly signature, after checking it against the version's tensor
   * signature (`invalid_request` naming `signature.features`, `signature.outputs.labels`, ...).
   *
   * @example await registry.setFriendlySignature('default', { name: 'fraud', alias: 'champion' }, { outputs: { labels: ['legit', 'fraud'] } })
   */
  async setFriendlySignature(
    project: string,
    ref: ModelRef,
    friendly: FriendlySignature | null,
  ): Promise<ModelVersion> {
    const current = await this.getVersion(project, ref);
    const bound = friendly ? bindFriendlySignature(friendly, current.signature) : null;
    const model = await this.#modelRow(project, ref.name);
    await this.#db
      .updateTable('model_versions')
      .set({ friendly_signature: bound ? JSON.stringify(bound) : null })
      .where('model_id', '=', model.id)
      .where('version', '=', current.version)
      .execute();
    return this.getVersion(project, { name: ref.name, version: current.version });
  }

  async deleteVersion(project: string, name: string, version: number): Promise<void> {
    const model = await this.#modelRow(project, name);
    await this.#refuseIfUsed(project, name, [version]);
    await this.#store.transaction(async (trx) => {
      const deleted = await trx
        .deleteFrom('model_versions')
        .where('model_id', '=', model.id)
        .where('version', '=', version)
        .returning('artifact_sha256')
        .executeTakeFirst();
      if (!deleted) throw notFound(`version ${version} of model '${name}'`, 'version');
      await trx.deleteFrom('model_aliases').where('model_id', '=', model.id).where('version', '=', version).execute();
    });
  }

  async deleteModel(project: string, name: string): Promise<void> {
    const model = await this.#modelRow(project, name);
    const versions = await this.#db
      .selectFrom('model_versions')
      .select(['version', 'artifact_sha256'])
      .where('model_id', '=', model.id)
      .execute();
    await this.#refuseIfUsed(
      project,
      name,
      versions.map((v) => v.version),
    );
    await this.#db.deleteFrom('models').where('id', '=', model.id).execute();
  }

  // Aliases

  async setAlias(project: string, name: string, alias: string, version: number): Promise<Model> {
    checkAlias(alias);
    const model = await this.#modelRow(project, name);
    await this.#store.transaction(async (trx) => {
      const exists = await trx
        .selectFrom('model_versions')
        .select('version')
        .where('model_id', '=', model.id)
        .where('version', '=', version)
        .executeTakeFirst();
      if (!exists) throw notFound(`version ${version} of model '${name}'`, 'version');
      const now = this.#stamp();
      await this.#upsertAlias(trx, model.id, alias, version, now);
      await this.#events?.(
        trx,
        {
          type: 'model.alias',
          subject: `${project}/${name}@${alias}`,
          payload: { project, model: name, version, alias },
        },
        new Date(now),
      );
    });
    return this.getModel(project, name);
  }

  async deleteAlias(project: string, name: string, alias: string): Promise<void> {
    checkAlias(alias);
    const model = await this.#modelRow(project, name);
    const result = await this.#db
      .deleteFrom('model_aliases')
      .where('model_id', '=', model.id)
      .where('alias', '=', alias)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound(`alias '${alias}' of model '${name}'`, 'alias');
  }

  // Internals

  /**
   * How a registration is stored: its format, type and runtime, checked against the catalogue. Errors name the
   * field (`type`, `image`, `signature`, `format`) and say the fix.
   */
  async #kindOf(
    input: RegisterVersionInput,
  ): Promise<{ format: string; modelType: string; runtime: string; image?: string }> {
    const typeName = input.modelType ?? input.format ?? 'onnx';
    let runtime: string = typeName;
    if (this.#modelTypes && (input.modelType !== undefined || !isOwn(typeName))) {
      const type = await this.#modelTypes.get(typeName).catch((error: unknown) => {
        if (error instanceof ModelportError && error.code === 'not_found') {
          throw invalid(
            'type',
            `unknown model type '${typeName}'; see the types with 'modelport modeltypes list' or add one with 'modelport modeltypes add -f type.yaml'`,
          );
        }
        throw error;
      });
      runtime = type.runtime;
    } else if (!isOwn(typeName)) {
      throw invalid('type', `unknown model type '${typeName}'; use onnx, js or hosted`);
    }
    if (runtime !== 'container') {
      if (input.image !== undefined) {
        throw invalid(
          'image',
          `the model type '${typeName}' runs in Modelport (runtime ${runtime}), not in an image of its own; register its file instead, or use a container model type with --image`,
        );
      }
      if (input.declaredSignature !== undefined) {
        throw invalid(
          'signature',
          `a ${runtime} model's tensor signature is read from the model itself; give only features and outputs`,
        );
      }
      if (input.format !== undefined && input.format !== runtime) {
        throw invalid('format', `'${input.format}' does not match the model type '${typeName}' (runtime ${runtime})`);
      }
      if (input.file === undefined) throw invalid('file', 'send the model file');
      return { format: runtime, modelType: typeName, runtime };
    }
    if (input.format !== undefined) {
      throw invalid('format', `'${typeName}' is a container model type; leave format out (the file is not opened)`);
    }
    if (input.declaredSignature === undefined) {
      throw invalid(
        'signature',
        `a '${typeName}' model is never opened by Modelport, so its signature must be declared: pass --signature signature.yaml with inputs and outputs ({ name, datatype, shape })`,
      );
    }
    checkDeclaredSignature(input.declaredSignature, 'signature');
    if (input.image !== undefined) {
      if (input.file !== undefined) {
        throw invalid('image', 'a model image is the version itself; send no file with --image');
      }
      parseImageReference(input.image, 'image');
      return { format: 'image', modelType: typeName, runtime, image: input.image };
    }
    if (input.file === undefined) throw invalid('file', `send the model file, or --image for a model image`);
    return { format: 'container', modelType: typeName, runtime };
  }

  #stamp(): string {
    return this.#now().toISOString();
  }

  async #projectId(project: string): Promise<string> {
    checkName(project, 'project');
    return projectIdOf(this.#db, project);
  }

  async #modelRow(project: string, name: string) {
    checkName(name, 'model');
    const projectId = await this.#projectId(project);
    const row = await this.#db
      .selectFrom('models')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw notFound(`model '${name}' in project '${project}'`, 'model');
    return row;
  }

  async #aliasesOf(modelId: string): Promise<Map<string, number>> {
    const rows = await this.#db
      .selectFrom('model_aliases')
      .select(['alias', 'version'])
      .where('model_id', '=', modelId)
      .orderBy('alias')
      .execute();
    return new Map(rows.map((r) => [r.alias, r.version]));
  }

  async #upsertAlias(trx: Transaction<Database>, modelId: string, alias: string, version: number, now: string) {
    await trx
      .insertInto('model_aliases')
      .values({ model_id: modelId, alias, version, updated_at: now })
      .onConflict((oc) => oc.columns(['model_id', 'alias']).doUpdateSet({ version, updated_at: now }))
      .execute();
  }

  async #refuseIfUsed(project: string, name: string, versions: number[]): Promise<void> {
    if (!this.#usage) return;
    for (const version of versions) {
      const users = await this.#usage.usersOf(project, name, version);
      if (users.length > 0) {
        throw new ModelportError(
          'conflict',
          `version ${version} of model '${name}' is used by deployment${users.length > 1 ? 's' : ''} ${users.map((u) => `'${u}'`).join(', ')}; change or delete the deployment first`,
          { field: 'version' },
        );
      }
    }
  }
}

function toVersion(project: string, model: string, row: VersionRow, aliases: Map<string, number>): ModelVersion {
  return {
    project,
    model,
    version: row.version,
    format: row.format,
    modelType: row.model_type,
    sha256: row.artifact_sha256,
    size: Number(row.artifact_size),
    signature: JSON.parse(row.signature) as ModelSignature,
    friendlySignature: row.friendly_signature ? (JSON.parse(row.friendly_signature) as FriendlySignature) : null,
    description: row.description,
    tags: JSON.parse(row.tags) as Record<string, string>,
    metrics: JSON.parse(row.metrics) as Record<string, number>,
    lineage: { source: row.source, dataCommit: row.data_commit, pipelineRun: row.pipeline_run },
    aliases: [...aliases].filter(([, v]) => v === row.version).map(([a]) => a),
    image: row.image ?? null,
    createdAt: row.created_at,
  };
}

/** Runtimes whose files Modelport itself loads (and so inspects at registration). */
const OWN_RUNTIMES = ['onnx', 'js', 'hosted'] as const;
type OwnRuntime = (typeof OWN_RUNTIMES)[number];
const isOwn = (runtime: string): runtime is OwnRuntime => (OWN_RUNTIMES as readonly string[]).includes(runtime);

const invalid = (field: string, message: string) =>
  new ModelportError('invalid_request', `${field}: ${message}`, { field });
