import type { Kysely } from 'kysely';
import { notFound } from '../../core/index.ts';
import type { ProjectsTable } from './schema.ts';

/** A project's id by its name; `not_found` naming the field `project` when there is none. */
export async function projectIdOf(db: Kysely<{ projects: ProjectsTable }>, project: string): Promise<string> {
  const row = await db.selectFrom('projects').select('id').where('name', '=', project).executeTakeFirst();
  if (!row) throw notFound(`project '${project}'`, 'project');
  return row.id;
}
