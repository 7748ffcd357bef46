/**
 * The first start with auth on: when no server admin exists, create the user `admin` with the server admin role
 * and a token named `admin`, written to `<home>/admin-token` (mode 0600). The caller prints the token once on the
 * terminal; it is never logged.
 */
import { rm } from 'node:fs/promises';
import { ModelportError } from '../core/index.ts';
import type { AuthStore } from './auth-store.ts';
import { writePrivateFile } from './key-file.ts';

export const ADMIN_USER = 'admin';

export interface BootstrapResult {
  /** The admin token's text, when this start created it. */
  token: string | undefined;
  file: string;
}

export async function ensureServerAdmin(store: AuthStore, file: string): Promise<BootstrapResult> {
  if ((await store.countServerAdmins()) > 0) return { token: undefined, file };
  let tokenName = 'admin';
  try {
    await store.createUser(ADMIN_USER, { serverAdmin: true });
  } catch (error) {
    if (!(error instanceof ModelportError && error.code === 'already_exists')) throw error;
    // Another server sharing the database made it first.
    if ((await store.countServerAdmins()) > 0) return { token: undefined, file };
    // A user `admin` made without the role (in single-user mode): it becomes the server admin, with a new token.
    await store.setServerAdmin(ADMIN_USER, true);
    tokenName = `admin-${Date.now()}`;
  }
  const { token } = await store.createToken({ user: ADMIN_USER, name: tokenName });
  await rm(file, { force: true });
  await writePrivateFile(file, `${token}\n`);
  return { token, file };
}
