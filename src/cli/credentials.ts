/**
 * Where `modelport login` keeps tokens: `$XDG_CONFIG_HOME/modelport/credentials` (default
 * `~/.config/modelport/credentials`), JSON of server URL -> token, mode 0600 in a 0700 folder. The CLI's token
 * comes from --token, then MODELPORT_TOKEN, then this file's entry for the server URL.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

type Env = Readonly<Record<string, string | undefined>>;

export function credentialsFile(env: Env): string {
  const base = env['XDG_CONFIG_HOME'] || join(env['HOME'] || homedir(), '.config');
  return join(base, 'modelport', 'credentials');
}

const key = (url: string) => url.replace(/\/+$/, '');

function readAll(file: string): Record<string, { token: string }> {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { servers?: Record<string, { token: string }> };
    return parsed.servers ?? {};
  } catch {
    return {};
  }
}

/** The stored token for `url`; undefined when none, or when the file is readable by others (it is then ignored). */
export function storedToken(env: Env, url: string): string | undefined {
  const file = credentialsFile(env);
  try {
    if ((statSync(file).mode & 0o077) !== 0) return undefined;
  } catch {
    return undefined;
  }
  return readAll(file)[key(url)]?.token;
}

/** Stores (or with undefined removes) the token for `url`; the file is written 0600, atomically. */
export function storeToken(env: Env, url: string, token: string | undefined): string {
  const file = credentialsFile(env);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const servers = readAll(file);
  if (token === undefined) delete servers[key(url)];
  else servers[key(url)] = { token };
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify({ servers }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, file);
  return file;
}
