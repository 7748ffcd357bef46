/**
 * The handshake that makes garbage collection safe while writers run. A writer claims ("touches") every blob it
 * is about to name, after hashing it and before the store makes it visible or skips it as a duplicate
 * (`PutOptions.onHashed`). A sweep deletes a blob only inside `exclusive`, after checking that nobody touched it
 * within the grace period. The two never interleave: on PostgreSQL a touch holds a shared advisory lock and the
 * sweep an exclusive one; on SQLite every write transaction holds the file's write lock. So either the sweep sees
 * the touch and spares the blob, or the blob is gone before the writer's put looks for it and is stored again.
 */
import { sql, type Transaction } from 'kysely';
import type { Database, MetadataStore } from '../store/index.ts';

const LOCK = "hashtext('modelport:gc' || coalesce(current_schema(), ''))";
const BATCH = 500;

export class BlobGuard {
  readonly #store: Pick<MetadataStore, 'transaction' | 'dialect'>;
  readonly #now: () => Date;

  constructor(store: Pick<MetadataStore, 'transaction' | 'dialect'>, now: () => Date = () => new Date()) {
    this.#store = store;
    this.#now = now;
  }

  /** Records that the blobs are about to be named; call before they are stored or reused. */
  async protect(sha256s: readonly string[]): Promise<void> {
    const unique = [...new Set(sha256s)];
    if (unique.length === 0) return;
    const touchedAt = this.#now().toISOString();
    await this.#store.transaction(async (trx) => {
      if (this.#store.dialect === 'postgres') {
        await sql`select pg_advisory_xact_lock_shared(${sql.raw(LOCK)})`.execute(trx);
      }
      for (let i = 0; i < unique.length; i += BATCH) {
        await trx
          .insertInto('blob_touches')
          .values(unique.slice(i, i + BATCH).map((sha256) => ({ sha256, touched_at: touchedAt })))
          .onConflict((oc) => oc.column('sha256').doUpdateSet({ touched_at: touchedAt }))
          .execute();
      }
    });
  }

  /** Runs `fn` with no `protect` in progress; the sweep's delete step. */
  exclusive<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return this.#store.transaction(async (trx) => {
      if (this.#store.dialect === 'postgres') await sql`select pg_advisory_xact_lock(${sql.raw(LOCK)})`.execute(trx);
      return fn(trx);
    });
  }
}
