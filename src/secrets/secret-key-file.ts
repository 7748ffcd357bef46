/**
 * Where the server's secrets key comes from, and how a new one is put in place.
 *
 * - MODELPORT_SECRET_KEY (base64 or hex of 32 bytes), when set: the operator owns the key; rotating needs the new
 *   key in the request, and the operator sets the variable to it before the next restart.
 * - Otherwise the key file (`<home>/secret.key` unless --secret-key-file), created with mode 0600 on first start and
 *   refused when group or others can read it. Rotation writes `<file>.next` first, re-encrypts in one transaction,
 *   then renames it over the key file; a crash in between is finished at the next start (the rows say which key
 *   they use).
 *
 * ```ts
 * const source = await loadSecretKey({ key: config.secretKey, file: config.secretKeyFile, inUse });
 * const secrets = new SecretStore({ store, key: source.key });
 * const rotate = keyRotator(secrets, source);
 * await rotate(); // a fresh key for a key file; rotate('<base64>') for MODELPORT_SECRET_KEY
 * ```
 */
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ModelportError } from '../core/index.ts';
import { generateSecretKey, parseSecretKey, type SecretKey } from './secret-key.ts';
import type { SecretStore } from './secret-store.ts';

export interface LoadSecretKeyOptions {
  /** The text of MODELPORT_SECRET_KEY, if set; it wins over the file. */
  key: string | undefined;
  /** Absolute path of the key file. */
  file: string;
  /** Whether any stored secret uses the key with this id (see `secretKeyInUse`). */
  inUse: (keyId: string) => Promise<boolean>;
}

export interface SecretKeySource {
  key: SecretKey;
  origin: 'env' | 'file';
  /** The key file (meaningful when origin is 'file'). */
  file: string;
  /** True when this start created the key file. */
  created: boolean;
}

export async function loadSecretKey(options: LoadSecretKeyOptions): Promise<SecretKeySource> {
  const { file } = options;
  if (options.key !== undefined) {
    return { key: parseSecretKey(options.key), origin: 'env', file, created: false };
  }
  const next = `${file}.next`;
  const pending = await readKeyFile(next);
  if (pending !== undefined) {
    // An interrupted rotation: it committed when some row already uses the new key.
    if (await options.inUse(pending.id)) await rename(next, file);
    else await rm(next, { force: true });
  }
  const existing = await readKeyFile(file);
  if (existing !== undefined) return { key: existing, origin: 'file', file, created: false };
  const key = generateSecretKey();
  if (await writeKeyFile(file, key)) return { key, origin: 'file', file, created: true };
  // Another process created it first: use theirs.
  const theirs = await readKeyFile(file);
  if (theirs === undefined) throw new Error(`the key file ${file} vanished while starting`);
  return { key: theirs, origin: 'file', file, created: false };
}

/** Rotates every secret to a new key: `newKey` (base64 or hex) or, with a key file, a freshly generated one. */
export type RotateSecretKey = (newKey?: string) => Promise<{ rotated: number; keyId: string; origin: 'env' | 'file' }>;

export function keyRotator(secrets: SecretStore, source: SecretKeySource): RotateSecretKey {
  return async (text) => {
    if (source.origin === 'env' && text === undefined) {
      throw new ModelportError(
        'invalid_request',
        "newKey: this server's key comes from MODELPORT_SECRET_KEY; send the new key (32 bytes as base64 or hex) and set MODELPORT_SECRET_KEY to it before the next restart",
        { field: 'newKey' },
      );
    }
    const key = text === undefined ? generateSecretKey() : parseSecretKey(text, 'newKey');
    if (key.id === secrets.keyId) {
      throw new ModelportError('invalid_request', 'newKey: the new key is the current key; use a different one', {
        field: 'newKey',
      });
    }
    if (source.origin === 'env') return { ...(await secrets.rotate(key)), origin: 'env' };
    const next = `${source.file}.next`;
    await rm(next, { force: true });
    await writeKeyFile(next, key);
    try {
      const result = await secrets.rotate(key);
      await rename(next, source.file);
      return { ...result, origin: 'file' };
    } catch (error) {
      await rm(next, { force: true });
      throw error;
    }
  };
}

async function readKeyFile(file: string): Promise<SecretKey | undefined> {
  let mode: number;
  try {
    mode = (await stat(file)).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if ((mode & 0o077) !== 0) {
    throw new ModelportError(
      'invalid_config',
      `--secret-key-file / MODELPORT_SECRET_KEY_FILE: ${file} can be read by other users; run chmod 600 on it`,
      { field: 'secretKeyFile' },
    );
  }
  return parseSecretKey(await readFile(file, 'utf8'), `--secret-key-file / MODELPORT_SECRET_KEY_FILE (${file})`);
}

/** Creates the file with mode 0600 and syncs it; false when it already exists. */
async function writeKeyFile(file: string, key: SecretKey): Promise<boolean> {
  await mkdir(dirname(file), { recursive: true });
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(`${key.export()}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}
