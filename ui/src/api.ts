/**
 * The console's one connection to the control plane: the typed client, on the origin that served the page, for
 * the project the user picked. With auth on, the browser's session cookie signs the calls in and every
 * state-changing call carries the session's CSRF token (`x-modelport-csrf`): the cookie alone never authorises one.
 */
import { ModelportApiError, ModelportClient } from '../../src/client/client.ts';

const PROJECT_KEY = 'modelport.project';
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

let csrf: string | undefined;
let onUnauthenticated: () => void = () => {};

/** fetch for the console: same-origin credentials, the CSRF header on writes, and a 401 signs the console out. */
export const consoleFetch: typeof fetch = async (input, init) => {
  const method = (init?.method ?? 'GET').toUpperCase();
  const headers = new Headers(init?.headers);
  if (csrf !== undefined && !SAFE.has(method)) headers.set('x-modelport-csrf', csrf);
  const res = await window.fetch(input, { ...init, headers, credentials: 'same-origin' });
  if (res.status === 401) onUnauthenticated();
  return res;
};

function client(project: string): ModelportClient {
  return new ModelportClient({ url: window.location.origin, project, timeoutMs: 30_000, fetch: consoleFetch });
}

/** The client for the current project; reassigned by `setProject` (importers see the new one). */
export let api = client(localStorage.getItem(PROJECT_KEY) ?? 'default');

const listeners = new Set<() => void>();

export function setProject(project: string): void {
  localStorage.setItem(PROJECT_KEY, project);
  api = client(project);
  for (const l of listeners) l();
}

export function subscribeProject(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Set by the session: the CSRF token of the signed-in browser, and what to do when the server says 401. */
export function setSessionCredentials(token: string | undefined, unauthenticated: () => void): void {
  csrf = token;
  onUnauthenticated = unauthenticated;
}

/** An error as the API words it (its message), or the thrown value's text. */
export function errorText(error: unknown): string {
  if (error instanceof ModelportApiError) return error.message;
  return error instanceof Error ? error.message : String(error);
}
