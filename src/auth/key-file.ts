/**
 * The token key (HMAC key of API tokens) and the admin token file, both kept in the server's home with mode 0600,
 * like the secrets key. MODELPORT_TOKEN_KEY (base64 or hex of 32 bytes) wins over the file: servers sharing one
 * PostgreSQL must share the key.
 */

import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ModelportError } from '../core/index.ts';

export interface TokenKeySource {
  key: Buffer;
  created: boolean;
}

export async function loadTokenKey(options: { key: string | undefined; file: string }): Promise<TokenKeySource> {
  if (options.key !== undefined) return { key: decodeKey(options.key, 'MODELPORT_TOKEN_KEY'), created: false };
  const existing = await readPrivateFile(options.file, 'MODELPORT_TOKEN_KEY (the token key file)');
  if (existing !== undefined) return { key: decodeKey(existing.trim(), options.file), created: false };
  const key = randomBytes(32);
  if (await writePrivateFile(options.file, `${key.toString('base64')}\n`)) return { key, created: true };
  const theirs = await readPrivateFile(options.file, options.file);
  if (theirs === undefined) throw new Error(`the token key file ${options.file} vanished while starting`);
  return { key: decodeKey(theirs.trim(), options.file), created: false };
}

function decodeKey(text: string, where: string): Buffer {
  const bytes = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (bytes.length !== 32) {
    throw new ModelportError(
      'invalid_config',
      `${where}: the token key must be 32 random bytes as base64 or hex, e.g. the output of \`openssl rand -base64 32\``,
      { field: 'tokenKey' },
    );
  }
  return bytes;
}

/** Reads a file that must not be readable by group or others; undefined when it does not exist. */
export async function readPrivateFile(file: string, what: string): Promise<string | undefined> {
  let mode: number;
  try {
    mode = (await stat(file)).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if ((mode & 0o077) !== 0) {
    throw new ModelportError('invalid_config', `${what}: ${file} can be read by other users; run chmod 600 on it`, {
      field: 'home',
    });
  }
  return readFile(file, 'utf8');
}

/** Creates the file with mode 0600 and syncs it; false when it already exists. */
export async function writePrivateFile(file: string, text: string): Promise<boolean> {
  await mkdir(dirname(file), { recursive: true });
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}
