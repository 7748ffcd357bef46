/**
 * The deployments' SQL: deployment rows (generation, current and latest revision, stored status) and their
 * immutable revisions, on SQLite or PostgreSQL through the metadata store. No policy here: DeploymentService
 * decides what to write; this file only knows the tables.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { checkName, ModelportError, notFound } from '../core/index.ts';
import { type Database, projectIdOf } from '../store/index.ts';
import type { DeploymentSpec } from './spec.ts';
import type { DeploymentStatus, Revision, RevisionTargets } from './types.ts';

/** The metadata store, as far as deployments use it. */
export interface DeploymentDatabase {
  db: Kysely<Database>;
  transaction<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T>;
}

export type DeploymentRow = Database['deployments'];

export interface NewRevision {
  projectId: string;
  name: string;
  spec: DeploymentSpec;
  targets: RevisionTargets;
  /** Status stored for a deployment created by this revision. */
  initialStatus: DeploymentStatus;
  now: string;
  /** Refuse (`already_exists`) when the deployment exists. */
  mustNotExist: boolean;
}

export class DeploymentStore {
  readonly #m: DeploymentDatabase;

  constructor(metadata: DeploymentDatabase) {
    this.#m = metadata;
  }

  async projectId(project: string): Promise<string> {
    checkName(project, 'project');
    return projectIdOf(this.#m.db, project);
  }

  list(projectId: string): Promise<DeploymentRow[]> {
    return this.#m.db
      .selectFrom('deployments')
      .selectAll()
      .where('project_id', '=', projectId)
      .orderBy('name')
      .execute();
  }

  /** Every deployment of every project, by name (server start restores them all). */
  listAll(): Promise<{ project: string; name: string }[]> {
    return this.#m.db
      .selectFrom('deployments')
      .innerJoin('projects', 'projects.id', 'deployments.project_id')
      .select(['projects.name as project', 'deployments.name as name'])
      .execute();
  }

  /** The deployment's row; `not_found` naming `deployment` when absent. */
  async row(project: string, name: string): Promise<DeploymentRow> {
    checkName(name, 'deployment');
    const projectId = await this.projectId(project);
    const row = await this.#m.db
      .selectFrom('deployments')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw notFound(`deployment '${name}' in project '${project}'`, 'deployment');
    return row;
  }

  async revisions(deploymentId: string): Promise<Revision[]> {
    const rows = await this.#m.db
      .selectFrom('deployment_revisions')
      .selectAll()
      .where('deployment_id', '=', deploymentId)
      .orderBy('revision')
      .execute();
    return rows.map((r) => ({
      revision: r.revision,
      spec: JSON.parse(r.spec) as DeploymentSpec,
      targets: JSON.parse(r.targets) as RevisionTargets,
      createdAt: r.created_at,
    }));
  }

  /** The spec of one revision, or undefined when it does not exist. */
  async revisionSpec(deploymentId: string, revision: number): Promise<DeploymentSpec | undefined> {
    const row = await this.#m.db
      .selectFrom('deployment_revisions')
      .select('spec')
      .where('deployment_id', '=', deploymentId)
      .where('revision', '=', revision)
      .executeTakeFirst();
    return row ? (JSON.parse(row.spec) as DeploymentSpec) : undefined;
  }

  /**
   * Creates the deployment if needed and adds a revision that becomes current and latest, in one transaction.
   * Returns false (and writes nothing) when spec and targets equal the current revision's.
   */
  async addRevision(input: NewRevision): Promise<boolean> {
    const spec = JSON.stringify(input.spec);
    const targets = JSON.stringify(input.targets);
    return this.#m.transaction(async (trx) => {
      let row = await trx
        .selectFrom('deployments')
        .selectAll()
        .where('project_id', '=', input.projectId)
        .where('name', '=', input.name)
        .executeTakeFirst();
      if (row && input.mustNotExist) {
        throw new ModelportError(
          'already_exists',
          `deployment '${input.name}' already exists; use apply to change it`,
          {
            field: 'name',
          },
        );
      }
      if (!row) {
        row = {
          id: randomUUID(),
          project_id: input.projectId,
          name: input.name,
          generation: 0,
          current_revision: 0,
          latest_revision: 0,
          status: JSON.stringify(input.initialStatus),
          created_at: input.now,
          updated_at: input.now,
        };
        await trx.insertInto('deployments').values(row).execute();
      } else {
        const current = await trx
          .selectFrom('deployment_revisions')
          .select(['spec', 'targets'])
          .where('deployment_id', '=', row.id)
          .where('revision', '=', row.current_revision)
          .executeTakeFirst();
        if (current && current.spec === spec && current.targets === targets) return false;
      }
      const revision = row.latest_revision + 1;
      await trx
        .insertInto('deployment_revisions')
        .values({ deployment_id: row.id, revision, spec, targets, created_at: input.now })
        .execute();
      await trx
        .updateTable('deployments')
        .set({
          generation: row.generation + 1,
          current_revision: revision,
          latest_revision: revision,
          updated_at: input.now,
        })
        .where('id', '=', row.id)
        .execute();
      return true;
    });
  }

  /** Points the deployment at an existing revision (a rollback): a new generation. */
  async setCurrentRevision(row: DeploymentRow, revision: number, now: string): Promise<void> {
    await this.#m.db
      .updateTable('deployments')
      .set({ current_revision: revision, generation: row.generation + 1, updated_at: now })
      .where('id', '=', row.id)
      .execute();
  }

  async setStatus(deploymentId: string, status: DeploymentStatus, now: string): Promise<void> {
    await this.#m.db
      .updateTable('deployments')
      .set({ status: JSON.stringify(status), updated_at: now })
      .where('id', '=', deploymentId)
      .execute();
  }

  /** Deletes the deployment and (by cascade) its revisions. */
  async delete(deploymentId: string): Promise<void> {
    await this.#m.db.deleteFrom('deployments').where('id', '=', deploymentId).execute();
  }
}
