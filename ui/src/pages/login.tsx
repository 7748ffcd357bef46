/** Sign-in: through the server's identity provider when it has one, or with a pasted API token. */
import { useState } from 'react';
import { ErrorMessage } from '../components.tsx';
import { useLocation } from '../router.tsx';
import { type SessionInfo, signInWithToken } from '../session.ts';

export function LoginPage({ session }: { session: SessionInfo }) {
  const { query } = useLocation();
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(query.get('error') ?? undefined);
  return (
    <section className="login">
      <h1>Sign in to Modelport</h1>
      <ErrorMessage error={error} />
      {session.oidc && (
        <div className="panel">
          <h2>With your organisation's account</h2>
          <p className="muted">You go to your identity provider and come back signed in.</p>
          <a className="button primary" href="/auth/login">
            Sign in with single sign-on
          </a>
        </div>
      )}
      <form
        className="panel"
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          setError(await signInWithToken(token));
          setBusy(false);
          setToken('');
        }}
      >
        <h2>With an API token</h2>
        <p className="muted">
          Paste a token made with <code>modelport tokens create</code>; the server admin's is in{' '}
          <code>&lt;home&gt;/admin-token</code>. The console keeps a session cookie, never the token.
        </p>
        <div className="fields">
          <label className="grow">
            API token
            <input
              type="password"
              value={token}
              onChange={(e) => setToken(e.target.value)}
              placeholder="mp_…"
              autoComplete="off"
              spellCheck={false}
              required
            />
          </label>
          <button type="submit" className={session.oidc ? '' : 'primary'} disabled={busy}>
            Sign in
          </button>
        </div>
      </form>
    </section>
  );
}
