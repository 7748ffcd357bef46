/**
 * Who the browser is: `GET /auth/session` on load, a sign-in with a pasted token, sign-out. In the single-user
 * loopback mode the server answers `auth: false` and the console needs no sign-in at all.
 */
import { useSyncExternalStore } from 'react';
import { setSessionCredentials } from './api.ts';

export interface SessionInfo {
  /** Auth is on: the console needs a session. */
  auth: boolean;
  /** The server offers sign-in through an identity provider. */
  oidc: boolean;
  signedIn: boolean;
  user?: string;
  serverAdmin?: boolean;
  csrf?: string;
  expiresAt?: string;
}

type State = { session: SessionInfo | undefined; error: string | undefined };

let state: State = { session: undefined, error: undefined };
const listeners = new Set<() => void>();

function set(next: State): void {
  state = next;
  setSessionCredentials(next.session?.csrf, signedOut);
  for (const l of listeners) l();
}

function signedOut(): void {
  if (state.session?.auth && state.session.signedIn)
    set({ session: { ...state.session, signedIn: false }, error: undefined });
}

export async function loadSession(): Promise<void> {
  try {
    const res = await window.fetch('/auth/session', { credentials: 'same-origin' });
    if (!res.ok) throw new Error(`the server answered ${res.status}`);
    set({ session: (await res.json()) as SessionInfo, error: undefined });
  } catch (e) {
    set({ session: undefined, error: `Cannot reach the server: ${(e as Error).message}` });
  }
}

/** Signs in with a pasted token; resolves to the error to show, or undefined. */
export async function signInWithToken(token: string): Promise<string | undefined> {
  const res = await window.fetch('/auth/token', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    return body.error?.message ?? `the server answered ${res.status}`;
  }
  await loadSession();
  return undefined;
}

export async function signOut(): Promise<void> {
  await window.fetch('/auth/logout', {
    method: 'POST',
    credentials: 'same-origin',
    headers: state.session?.csrf ? { 'x-modelport-csrf': state.session.csrf } : {},
  });
  await loadSession();
}

export function useSession(): State {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => state,
  );
}
