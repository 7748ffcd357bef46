/**
 * Secrets of a project, encrypted at rest in the metadata store (table `secrets`, migration 002_secrets).
 *
 * Names are environment-variable names, `^[A-Z_][A-Z0-9_]{0,127}$` (uppercase only: they become a runtime's
 * environment, and one spelling per variable avoids `token` and `TOKEN` shadowing each other); values are 1 byte to
 * 64 KiB of UTF-8. No method returns a value except `resolve`, which wraps each in a `SecretValue` and is never
 * exposed by the API. Errors name the project and secret, never the value.
 *
 * ```ts
 * const secrets = new SecretStore({ store: metadata, key: parseSecretKey(env.MODELPORT_SECRET_KEY) });
 * await secrets.set('default', 'API_TOKEN', 'hunter2');
 * const env = await secrets.resolve('default', ['API_TOKEN']); // Map { 'API_TOKEN' => [secret] }
 * ```
 */
import { type Kysely, sql, type Transaction } from 'kysely';
import { ModelportError, notFound } from '../core/index.ts';
import { type Database, projectIdOf } from '../store/index.ts';
import type { SecretKey } from './secret-key.ts';
import { SecretValue } from './secret-value.ts';

export const SECRET_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
export const MAX_SECRET_BYTES = 64 * 1024;

/** What the API shows of a secret: never its value. */
export interface SecretInfo {
  name: string;
  createdAt: string;
  updatedAt: string;
}

/** The slice of the metadata store the secrets need. */
export interface SecretsMetadata {
  db: Kysely<Database>;
  dialect: 'sqlite' | 'postgres';
  transaction<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T>;
}

export interface SecretStoreDeps {
  store: SecretsMetadata;
  /** Encrypts every write; decrypts rows whose key id matches it. */
  key: SecretKey;
  now?: () => Date;
}

export class SecretStore {
  readonly #store: SecretsMetadata;
  readonly #now: () => Date;
  #key: SecretKey;
  /** Serialises writes with rotation, so no write lands under a key that rotation just retired. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(deps: SecretStoreDeps) {
    this.#store = deps.store;
    this.#key = deps.key;
    this.#now = deps.now ?? (() => new Date());
  }

  /** Id of the key that encrypts new writes. */
  get keyId(): string {
    return this.#key.id;
  }

  /** Creates or replaces a secret. `created` tells which. */
  async set(project: string, name: string, value: string | SecretValue): Promise<SecretInfo & { created: boolean }> {
    checkSecretName(name);
    const plaintext = typeof value === 'string' ? value : value.reveal();
    checkSecretValue(plaintext);
    return this.#exclusive(async () => {
      const projectId = await this.#projectId(project);
      const sealed = this.#key.seal(plaintext, project, name);
      const now = this.#now().toISOString();
      const row = { ...sealed, key_id: this.#key.id, updated_at: now };
      return this.#store.transaction(async (trx) => {
        const existing = await trx
          .selectFrom('secrets')
          .select('created_at')
          .where('project_id', '=', projectId)
          .where('name', '=', name)
          .executeTakeFirst();
        if (existing) {
          await trx
            .updateTable('secrets')
            .set(row)
            .where('project_id', '=', projectId)
            .where('name', '=', name)
            .execute();
          return { name, createdAt: existing.created_at, updatedAt: now, created: false };
        }
        await trx
          .insertInto('secrets')
          .values({ project_id: projectId, name, created_at: now, ...row })
          .execute();
        return { name, createdAt: now, updatedAt: now, created: true };
      });
    });
  }

  /** Names and timestamps, sorted by name. */
  async list(project: string): Promise<SecretInfo[]> {
    const projectId = await this.#projectId(project);
    const rows = await this.#store.db
      .selectFrom('secrets')
      .select(['name', 'created_at', 'updated_at'])
      .where('project_id', '=', projectId)
      .orderBy('name')
      .execute();
    return rows.map((r) => ({ name: r.name, createdAt: r.created_at, updatedAt: r.updated_at }));
  }

  /** Throws not_found when the secret does not exist. */
  async delete(project: string, name: string): Promise<void> {
    checkSecretName(name);
    const projectId = await this.#projectId(project);
    const result = await this.#store.db
      .deleteFrom('secrets')
      .where('project_id', '=', projectId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound(`secret '${name}' in project '${project}'`, 'name');
  }

  /**
   * The decrypted values of `names`, for a runtime's environment. Internal: never behind an API route. Throws
   * not_found naming every missing secret, and secret_unreadable when one does not decrypt.
   */
  async resolve(project: string, names: readonly string[]): Promise<Map<string, SecretValue>> {
    const out = new Map<string, SecretValue>();
    const wanted = [...new Set(names)];
    if (wanted.length === 0) return out;
    for (const name of wanted) checkSecretName(name);
    const projectId = await this.#projectId(project);
    const rows = await this.#store.db
      .selectFrom('secrets')
      .select(['name', 'ciphertext', 'nonce', 'key_id'])
      .where('project_id', '=', projectId)
      .where('name', 'in', wanted)
      .execute();
    const missing = wanted.filter((name) => !rows.some((r) => r.name === name));
    if (missing.length > 0) {
      throw notFound(
        `secret${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')} in project '${project}'`,
        'secrets',
      );
    }
    for (const row of rows) out.set(row.name, new SecretValue(this.#open(this.#key, row, project)));
    return out;
  }

  /**
   * Re-encrypts every secret of every project under `newKey` in one transaction, then uses `newKey` for all
   * operations. Nothing changes when any secret fails to decrypt (secret_unreadable names it).
   */
  async rotate(newKey: SecretKey): Promise<{ rotated: number; keyId: string }> {
    return this.#exclusive(async () => {
      const rotated = await this.#store.transaction(async (trx) => {
        // Other servers on the same PostgreSQL wait until the rotation commits, then see the new rows.
        if (this.#store.dialect === 'postgres') await sql`lock table secrets in share row exclusive mode`.execute(trx);
        const rows = await trx
          .selectFrom('secrets')
          .innerJoin('projects', 'projects.id', 'secrets.project_id')
          .select([
            'secrets.project_id',
            'secrets.name',
            'secrets.ciphertext',
            'secrets.nonce',
            'secrets.key_id',
            'projects.name as project',
          ])
          .execute();
        for (const row of rows) {
          const plaintext = this.#open(this.#key, row, row.project);
          await trx
            .updateTable('secrets')
            .set({ ...newKey.seal(plaintext, row.project, row.name), key_id: newKey.id })
            .where('project_id', '=', row.project_id)
            .where('name', '=', row.name)
            .execute();
        }
        return rows.length;
      });
      this.#key = newKey;
      return { rotated, keyId: newKey.id };
    });
  }

  #open(key: SecretKey, row: { name: string; ciphertext: string; nonce: string; key_id: string }, project: string) {
    const what = `secret '${row.name}' in project '${project}' cannot be decrypted`;
    if (row.key_id !== key.id) {
      throw new ModelportError(
        'secret_unreadable',
        `${what}: it was written with key ${row.key_id}, and this server's key is ${key.id}; start the server with that key (MODELPORT_SECRET_KEY or the key file), or set the secret again`,
        { field: 'name' },
      );
    }
    const plaintext = key.open(row, project, row.name);
    if (plaintext === undefined) {
      throw new ModelportError(
        'secret_unreadable',
        `${what}: the stored ciphertext does not verify (altered or moved from another row); set the secret again`,
        { field: 'name' },
      );
    }
    return plaintext;
  }

  async #projectId(project: string): Promise<string> {
    return projectIdOf(this.#store.db, project);
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

/** True when some row was written with key `keyId` (used to finish an interrupted key-file rotation). */
export async function secretKeyInUse(db: Kysely<Database>, keyId: string): Promise<boolean> {
  const row = await db.selectFrom('secrets').select('name').where('key_id', '=', keyId).limit(1).executeTakeFirst();
  return row !== undefined;
}

export function checkSecretName(name: string, field = 'name'): string {
  if (!SECRET_NAME.test(name)) {
    throw new ModelportError(
      'invalid_request',
      `${field}: '${name.length > 40 ? `${name.slice(0, 37)}...` : name}' is not a secret name; use an environment variable name: uppercase letters, digits and '_', not starting with a digit, at most 128 characters`,
      { field },
    );
  }
  return name;
}

/** Checks size only; the message never contains the value. */
export function checkSecretValue(value: string, field = 'value'): string {
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes === 0) throw new ModelportError('invalid_request', `${field}: the secret value is empty`, { field });
  if (bytes > MAX_SECRET_BYTES) {
    throw new ModelportError(
      'invalid_request',
      `${field}: the secret value is ${bytes} bytes; the limit is ${MAX_SECRET_BYTES} bytes (64 KiB)`,
      { field },
    );
  }
  return value;
}
