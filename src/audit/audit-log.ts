/**
 * The audit log: who did what, when, and what came of it, for every mutating control-API call and every denied call
 * (401/403, control API and inference). Rows are only ever appended to `audit_log` in the metadata store, and each
 * row's `hash` is sha256(previous hash + the row in canonical form), so `verify()` finds the first row that was
 * edited, deleted or inserted afterwards. Removing rows from the end is not visible in the chain alone: `verify()`
 * returns the head (count and last hash) for an administrator to keep elsewhere and compare.
 *
 * Writing never fails the caller: `record()` resolves even when the store is down, logs the error and counts it in
 * `modelport_audit_write_failures_total`. Callers await it before answering a successful mutation (so a 2xx answer
 * means the row is stored), and need not for denials.
 *
 * ```ts
 * const audit = new AuditLog({ store, metrics, log: logger.child({ component: 'audit' }) });
 * await audit.record({ principal, method: 'POST', route: '/projects/:project/deployments', project: 'default',
 *   object: 'fraud', status: 201, detail: { before: null, after: spec } });
 * const { ok, firstBad } = await audit.verify();
 * ```
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Logger } from '../logging/index.ts';
import type { Counter, MetricsRegistry } from '../metrics/index.ts';
import type { MetadataStore } from '../store/index.ts';

/** The part of a principal the log records (works with any principal shape that has these fields). */
export interface AuditPrincipal {
  readonly subject: string;
  readonly user?: string | undefined;
  readonly token?: { readonly name: string } | undefined;
}

/** What a caller hands to `record`. */
export interface AuditEvent {
  /** Undefined when the caller could not be identified (a 401): recorded as `anonymous`. */
  principal: AuditPrincipal | undefined;
  method: string;
  /** The route pattern, never the raw path (`/projects/:project/models/:model`), or an inference path family. */
  route: string;
  project?: string | undefined;
  object?: string | undefined;
  status: number;
  errorCode?: string | undefined;
  /** Before/after of a spec, the name of a secret set: never a secret's value. */
  detail?: Record<string, unknown> | undefined;
}

/** A stored row, as the API and the CLI show it. */
export interface AuditRecord {
  seq: number;
  at: string;
  subject: string;
  user: string | null;
  token: string | null;
  method: string;
  route: string;
  project: string | null;
  object: string | null;
  status: number;
  errorCode: string | null;
  detail: Record<string, unknown> | null;
  hash: string;
}

export interface AuditQuery {
  project?: string | undefined;
  /** ISO time: rows at or after it. */
  since?: string | undefined;
  /** Newest first; default 100, at most 1000. */
  limit?: number | undefined;
}

export interface AuditVerifyResult {
  ok: boolean;
  /** Rows checked. */
  count: number;
  /** The last row's seq and hash: keep them elsewhere to detect rows removed from the end. */
  head: { seq: number; hash: string } | null;
  /** The first row that does not fit the chain, and why. */
  firstBad?: { seq: number; reason: string };
}

export interface AuditLogOptions {
  store: MetadataStore;
  metrics?: MetricsRegistry;
  /** Where a failed write is logged (with the error), so the call itself goes on. */
  log: Logger;
  now?: () => Date;
}

export const GENESIS_HASH = '0'.repeat(64);

/** Rows waiting to be written beyond this are dropped (and counted), so a flood of denials cannot grow memory. */
const MAX_PENDING = 10_000;

type Row = Omit<AuditRecord, 'detail' | 'hash'> & { detail: string | null; prevHash: string };

/** The row as hashed: every column but the hashes, in a fixed order. */
export function canonicalRow(row: Omit<Row, 'prevHash'>): string {
  return JSON.stringify([
    row.seq,
    row.at,
    row.subject,
    row.user,
    row.token,
    row.method,
    row.route,
    row.project,
    row.object,
    row.status,
    row.errorCode,
    row.detail,
  ]);
}

export function chainHash(prevHash: string, row: Omit<Row, 'prevHash'>): string {
  return createHash('sha256').update(prevHash).update(canonicalRow(row)).digest('hex');
}

export class AuditLog {
  readonly #o: AuditLogOptions;
  readonly #failures: Counter | undefined;
  readonly #written: Counter | undefined;
  #queue: Promise<void> = Promise.resolve();
  #pending = 0;

  constructor(options: AuditLogOptions) {
    this.#o = options;
    this.#failures = options.metrics?.counter(
      'modelport_audit_write_failures_total',
      'Audit rows that could not be written (store error or queue full); the calls themselves went on',
    );
    this.#written = options.metrics?.counter('modelport_audit_records_total', 'Audit rows written');
    // Shown from the start, so an alert on failures > 0 has a series to watch.
    this.#failures?.inc({}, 0);
    this.#written?.inc({}, 0);
  }

  /** Appends one row; resolves once it is stored or has failed (never rejects). Rows are written in call order. */
  record(event: AuditEvent): Promise<void> {
    if (this.#pending >= MAX_PENDING) {
      this.#failures?.inc();
      return Promise.resolve();
    }
    this.#pending++;
    const at = (this.#o.now?.() ?? new Date()).toISOString();
    const write = this.#queue.then(() => this.#append(event, at));
    this.#queue = write.then(
      () => {
        this.#pending--;
        this.#written?.inc();
      },
      (error: unknown) => {
        this.#pending--;
        this.#failures?.inc();
        this.#o.log.error('audit: a row could not be written', { err: error });
      },
    );
    return this.#queue;
  }

  async #append(event: AuditEvent, at: string): Promise<void> {
    const { store } = this.#o;
    await store.transaction(async (trx) => {
      // Other server processes on the same PostgreSQL schema append too: one at a time, so the chain stays linear.
      if (store.dialect === 'postgres') {
        await sql`select pg_advisory_xact_lock(hashtext('modelport:audit:' || coalesce(current_schema(), '')))`.execute(
          trx,
        );
      }
      const last = await trx
        .selectFrom('audit_log')
        .select(['seq', 'hash'])
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      const row = {
        seq: (last?.seq ?? 0) + 1,
        at,
        subject: event.principal?.subject ?? 'anonymous',
        user: event.principal?.user ?? null,
        token: event.principal?.token?.name ?? null,
        method: event.method,
        route: event.route,
        project: event.project ?? null,
        object: event.object ?? null,
        status: event.status,
        errorCode: event.errorCode ?? null,
        detail: event.detail === undefined ? null : JSON.stringify(event.detail),
      };
      const prevHash = last?.hash ?? GENESIS_HASH;
      await trx
        .insertInto('audit_log')
        .values({
          seq: row.seq,
          at: row.at,
          subject: row.subject,
          user_name: row.user,
          token_name: row.token,
          method: row.method,
          route: row.route,
          project: row.project,
          object: row.object,
          status: row.status,
          error_code: row.errorCode,
          detail: row.detail,
          prev_hash: prevHash,
          hash: chainHash(prevHash, row),
        })
        .execute();
    });
  }

  /** Waits for the rows queued so far (tests, shutdown). */
  async flush(): Promise<void> {
    await this.#queue;
  }

  /** Newest first. */
  async list(query: AuditQuery = {}): Promise<AuditRecord[]> {
    let q = this.#o.store.db.selectFrom('audit_log').selectAll();
    if (query.project !== undefined) q = q.where('project', '=', query.project);
    if (query.since !== undefined) q = q.where('at', '>=', query.since);
    const rows = await q
      .orderBy('seq', 'desc')
      .limit(Math.min(Math.max(query.limit ?? 100, 1), 1000))
      .execute();
    return rows.map((r) => ({
      seq: r.seq,
      at: r.at,
      subject: r.subject,
      user: r.user_name,
      token: r.token_name,
      method: r.method,
      route: r.route,
      project: r.project,
      object: r.object,
      status: r.status,
      errorCode: r.error_code,
      detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>),
      hash: r.hash,
    }));
  }

  /** Walks the whole chain in order, in pages, and reports the first row that does not fit. */
  async verify(): Promise<AuditVerifyResult> {
    const page = 1000;
    let expectedSeq = 1;
    let prevHash = GENESIS_HASH;
    let count = 0;
    for (;;) {
      const rows = await this.#o.store.db
        .selectFrom('audit_log')
        .selectAll()
        .where('seq', '>=', expectedSeq)
        .orderBy('seq')
        .limit(page)
        .execute();
      for (const r of rows) {
        const bad = (reason: string): AuditVerifyResult => ({
          ok: false,
          count,
          head: count === 0 ? null : { seq: expectedSeq - 1, hash: prevHash },
          firstBad: { seq: r.seq, reason },
        });
        if (r.seq !== expectedSeq) {
          const missing =
            r.seq - 1 > expectedSeq ? `rows ${expectedSeq}-${r.seq - 1} are missing` : `row ${expectedSeq} is missing`;
          return bad(r.seq > expectedSeq ? `${missing} (deleted)` : 'out of order');
        }
        if (r.prev_hash !== prevHash)
          return bad('its link to the previous row does not match (a row before it changed)');
        const row = {
          seq: r.seq,
          at: r.at,
          subject: r.subject,
          user: r.user_name,
          token: r.token_name,
          method: r.method,
          route: r.route,
          project: r.project,
          object: r.object,
          status: r.status,
          errorCode: r.error_code,
          detail: r.detail,
        };
        if (chainHash(prevHash, row) !== r.hash) return bad('its content does not match its hash (the row was edited)');
        prevHash = r.hash;
        expectedSeq++;
        count++;
      }
      if (rows.length < page) break;
    }
    return { ok: true, count, head: count === 0 ? null : { seq: expectedSeq - 1, hash: prevHash } };
  }
}
