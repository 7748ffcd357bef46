/**
 * API tokens of the signed-in user: create one (name, expiry, scope) and see it once, list them (never their
 * secrets), revoke. In the single-user loopback mode there are no users, so there is nothing to make tokens for.
 */
import { useState } from 'react';
import { api } from '../api.ts';
import { ConfirmButton, Empty, ErrorMessage, formatTime, Loading, useAction } from '../components.tsx';
import type { SessionInfo } from '../session.ts';
import { useData } from '../use-data.ts';

const EXPIRIES = [
  ['30d', '30 days'],
  ['7d', '7 days'],
  ['1d', '1 day'],
  ['90d', '90 days'],
  ['365d', '1 year'],
  ['', 'never'],
] as const;

export function TokensPage({ session }: { session: SessionInfo }) {
  if (!session.auth) {
    return (
      <section>
        <h1>API tokens</h1>
        <Empty title="Auth is off on this server.">
          It runs in single-user mode on loopback, where no token is needed. Start it with <code>--auth</code> to have
          users and tokens.
        </Empty>
      </section>
    );
  }
  return <Tokens user={session.user ?? ''} />;
}

function Tokens({ user }: { user: string }) {
  const tokens = useData(() => api.listTokens(), []);
  const deployments = useData(() => api.listDeployments(), []);
  const [name, setName] = useState('');
  const [expiresIn, setExpiresIn] = useState<string>('30d');
  const [scope, setScope] = useState('');
  const [created, setCreated] = useState<{ name: string; token: string }>();
  const [copied, setCopied] = useState(false);
  const action = useAction();
  return (
    <section>
      <h1>API tokens</h1>
      <p className="muted">
        Tokens of <strong>{user}</strong> for the CLI (<code>MODELPORT_TOKEN</code>), programs and applications. A token
        can do what your roles allow, or only call one deployment.
      </p>
      {created && (
        <div className="panel created" role="status">
          <h2>Token {created.name} created</h2>
          <p>Copy it now: it is shown this once and cannot be recovered.</p>
          <div className="row">
            <input
              className="secret mono"
              readOnly
              value={created.token}
              aria-label="The new token"
              onFocus={(e) => e.target.select()}
            />
            <button
              type="button"
              onClick={async () => {
                await navigator.clipboard?.writeText(created.token).catch(() => {});
                setCopied(true);
              }}
            >
              {copied ? 'Copied' : 'Copy'}
            </button>
            <button type="button" onClick={() => setCreated(undefined)}>
              Done
            </button>
          </div>
        </div>
      )}
      <ErrorMessage error={tokens.error ?? action.error} />
      <form
        className="panel"
        onSubmit={async (event) => {
          event.preventDefault();
          let answer: { name: string; token: string } | undefined;
          const ok = await action.run(async () => {
            answer = await api.createToken({
              name,
              ...(expiresIn ? { expiresIn } : {}),
              ...(scope ? { deployment: { project: api.project, name: scope } } : {}),
            });
          });
          if (ok && answer) {
            setCreated({ name: answer.name, token: answer.token });
            setCopied(false);
            setName('');
            await tokens.reload();
          }
        }}
      >
        <h2>Create a token</h2>
        <div className="fields">
          <label>
            Name
            <input
              value={name}
              onChange={(e) => setName(e.target.value)}
              placeholder="laptop"
              required
              autoComplete="off"
            />
          </label>
          <label>
            Expires in
            <select value={expiresIn} onChange={(e) => setExpiresIn(e.target.value)}>
              {EXPIRIES.map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label>
            May
            <select value={scope} onChange={(e) => setScope(e.target.value)}>
              <option value="">everything my roles allow</option>
              {(deployments.data ?? []).map((d) => (
                <option key={d.name} value={d.name}>
                  only call {d.name} ({api.project})
                </option>
              ))}
            </select>
          </label>
          <button type="submit" className="primary" disabled={action.busy}>
            Create token
          </button>
        </div>
      </form>
      <h2>Your tokens</h2>
      {!tokens.data ? (
        !tokens.error && <Loading />
      ) : tokens.data.length === 0 ? (
        <Empty title="No tokens yet.">Create one above.</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">May</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="sr-only">Revoke</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.map((t) => (
                <tr key={t.id}>
                  <td>
                    <strong>{t.name}</strong> <span className="muted mono">{t.id}</span>
                  </td>
                  <td>
                    {t.deployment ? `call ${t.deployment.name} (${t.deployment.project})` : 'everything'}
                    {t.rateLimit !== undefined ? `, ${t.rateLimit}/s` : ''}
                  </td>
                  <td>{formatTime(t.createdAt)}</td>
                  <td>{t.lastUsedAt ? formatTime(t.lastUsedAt) : <span className="muted">never</span>}</td>
                  <td>{t.expiresAt ? formatTime(t.expiresAt) : <span className="muted">never</span>}</td>
                  <td>
                    <ConfirmButton
                      label={`Revoke ${t.name}`}
                      confirmLabel="Revoke"
                      danger
                      question={`Revoke the token ${t.name}? Every program using it stops working at once.`}
                      onConfirm={() => void action.run(() => api.revokeToken(t.id)).then(tokens.reload)}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
