/**
 * The events table: what happened, in order, for consumers that keep their own cursor (the last id they
 * handled) and ask for what came after it. Written in the same transaction as the change it reports, so an event
 * exists exactly when its change does.
 *
 * Ids are consecutive and follow commit order: on PostgreSQL an appender takes a transaction advisory lock
 * before it reads the highest id, so two transactions never hold ids out of order (a cursor never skips an
 * event that commits late); on SQLite every write transaction holds the file's write lock anyway.
 */
import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database, MetadataDialect } from '../store/index.ts';
import type { DataEvent } from './types.ts';

export interface NewEvent {
  /** `data.commit`, ... */
  type: string;
  /** What it is about: `<project>/<repo>@<commit>`. */
  subject: string;
  payload: Record<string, unknown>;
}

/** Appends an event inside `trx`; call it last in the transaction, as it serialises event writers. */
export async function appendEvent(
  trx: Transaction<Database>,
  dialect: MetadataDialect,
  event: NewEvent,
  now: Date,
): Promise<number> {
  if (dialect === 'postgres') {
    await sql`select pg_advisory_xact_lock(hashtext('modelport:events' || coalesce(current_schema(), '')))`.execute(
      trx,
    );
  }
  const row = await trx
    .selectFrom('events')
    .select((eb) => eb.fn.max('id').as('last'))
    .executeTakeFirst();
  const id = Number(row?.last ?? 0) + 1;
  await trx
    .insertInto('events')
    .values({
      id,
      type: event.type,
      subject: event.subject,
      payload: JSON.stringify(event.payload),
      created_at: now.toISOString(),
    })
    .execute();
  return id;
}

/** Events with id > `after`, oldest first, optionally of one type. */
export async function listEvents(
  db: Kysely<Database>,
  options: { after?: number; type?: string; limit?: number } = {},
): Promise<DataEvent[]> {
  let query = db
    .selectFrom('events')
    .selectAll()
    .where('id', '>', options.after ?? 0)
    .orderBy('id')
    .limit(Math.min(options.limit ?? 100, 1000));
  if (options.type !== undefined) query = query.where('type', '=', options.type);
  const rows = await query.execute();
  return rows.map((r) => ({
    id: Number(r.id),
    type: r.type,
    subject: r.subject,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    createdAt: r.created_at,
  }));
}
