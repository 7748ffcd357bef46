/**
 * Data repositories: the list, a repository's history per branch, a commit's tree, a file's profile with its
 * histograms, and the diff between two commits.
 */
import { useState } from 'react';
import type { ApiResponse } from '../../../src/client/client.ts';
import { api } from '../api.ts';
import { Empty, ErrorMessage, formatBytes, formatTime, List, Loading, useAction } from '../components.tsx';
import { Histogram, short, TopValues } from '../histogram.tsx';
import { Link, navigate, useLocation } from '../router.tsx';
import { useData } from '../use-data.ts';

type Commit = ApiResponse<'getCommit'>;
type Profile = ApiResponse<'getProfile'>;

const enc = encodeURIComponent;
const id12 = (id: string) => id.slice(0, 12);
const TABULAR = /\.(csv|tsv|jsonl|ndjson|parquet)$/i;

export const repoHref = (repo: string) => `/data/${enc(repo)}`;
export const commitHref = (repo: string, commit: string, path = '') =>
  `/data/${enc(repo)}/commits/${enc(commit)}${path ? `?path=${enc(path)}` : ''}`;
const profileHref = (repo: string, commit: string, path: string) =>
  `/data/${enc(repo)}/commits/${enc(commit)}/profile?path=${enc(path)}`;
const diffHref = (repo: string, from: string, to: string) => `/data/${enc(repo)}/diff?from=${enc(from)}&to=${enc(to)}`;

function Changes({ commit }: { commit: Commit }) {
  const c = commit.changes;
  return (
    <span className="mono">
      <span className="change-added">+{c.added}</span> <span className="change-changed">~{c.changed}</span>{' '}
      <span className="change-removed">−{c.removed}</span>
    </span>
  );
}

export function ReposPage() {
  const repos = useData(() => api.listRepos(), []);
  return (
    <section>
      <h1>Data</h1>
      <p className="muted">Versioned datasets: every put is a commit; branches and tags name commits.</p>
      <List
        list={repos}
        empty={
          <Empty title="No data repositories yet.">
            Create one below, then put a folder from the command line:{' '}
            <code>modelport data put images ./images -m "first import"</code>.
          </Empty>
        }
        rowKey={(r) => r.name}
        columns={[
          {
            header: 'Repository',
            cell: (r) => (
              <>
                <Link href={repoHref(r.name)}>{r.name}</Link>
                {r.description && <div className="muted">{r.description}</div>}
              </>
            ),
          },
          { header: 'Default branch', cell: (r) => r.defaultBranch },
          { header: 'Branches', cell: (r) => r.branches },
          { header: 'Tags', cell: (r) => r.tags },
          {
            header: 'Created',
            cell: (r) => (
              <>
                {formatTime(r.createdAt)} <span className="muted">by {r.createdBy}</span>
              </>
            ),
          },
        ]}
      />
      <CreateRepoForm />
    </section>
  );
}

function CreateRepoForm() {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const action = useAction();
  return (
    <form
      className="panel"
      onSubmit={async (event) => {
        event.preventDefault();
        if (await action.run(() => api.createRepo(name, description ? { description } : {}))) navigate(repoHref(name));
      }}
    >
      <h2>Create a repository</h2>
      <div className="fields">
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required autoComplete="off" />
        </label>
        <label>
          Description
          <input value={description} onChange={(e) => setDescription(e.target.value)} autoComplete="off" />
        </label>
        <button type="submit" className="primary" disabled={action.busy}>
          Create
        </button>
      </div>
      <ErrorMessage error={action.error} />
    </form>
  );
}

export function RepoPage({ repo }: { repo: string }) {
  const { query } = useLocation();
  const info = useData(() => api.getRepo(repo), [repo]);
  const branches = useData(() => api.listBranches(repo), [repo]);
  const tags = useData(() => api.listTags(repo), [repo]);
  const branch = query.get('branch') ?? info.data?.defaultBranch;
  const head = branches.data?.find((b) => b.name === branch)?.head;
  const log = useData(async () => (branch && head ? api.listCommits(repo, branch, 100) : []), [repo, branch, head]);

  return (
    <section>
      <p className="crumbs">
        <Link href="/data">Data</Link> /
      </p>
      <h1>{repo}</h1>
      {info.data?.description && <p>{info.data.description}</p>}
      <ErrorMessage error={info.error ?? branches.error ?? log.error} />
      <nav className="tabs" aria-label="Branches">
        {(branches.data ?? []).map((b) => (
          <Link
            key={b.name}
            href={`${repoHref(repo)}?branch=${enc(b.name)}`}
            className="chip"
            aria-current={b.name === branch ? 'page' : undefined}
          >
            {b.name}
            {b.name === info.data?.defaultBranch ? ' (default)' : ''}
          </Link>
        ))}
      </nav>
      <h2>History of {branch ?? '…'}</h2>
      {!log.data ? (
        !log.error && <Loading />
      ) : log.data.length === 0 ? (
        <Empty title={`Branch ${branch} has no commits yet.`}>
          Put a file or a folder:{' '}
          <code>
            modelport data put {repo}@{branch} ./data -m "first import"
          </code>
          .
        </Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Commit</th>
                <th scope="col">Message</th>
                <th scope="col">Changes</th>
                <th scope="col">Files</th>
                <th scope="col">Author</th>
                <th scope="col">When</th>
                <th scope="col">Diff</th>
              </tr>
            </thead>
            <tbody>
              {log.data.map((c) => (
                <tr key={c.id}>
                  <td>
                    <Link href={commitHref(repo, c.id)} className="mono">
                      {id12(c.id)}
                    </Link>
                    {(tags.data ?? [])
                      .filter((t) => t.commit === c.id)
                      .map((t) => (
                        <span key={t.name} className="chip">
                          {t.name}
                        </span>
                      ))}
                  </td>
                  <td>{c.message}</td>
                  <td>
                    <Changes commit={c} />
                  </td>
                  <td>
                    {c.files} <span className="muted">({formatBytes(c.size)})</span>
                  </td>
                  <td>{c.author}</td>
                  <td>{formatTime(c.createdAt)}</td>
                  <td>{c.parents[0] ? <Link href={diffHref(repo, c.parents[0], c.id)}>vs parent</Link> : '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function CommitPage({ repo, commit }: { repo: string; commit: string }) {
  const { query } = useLocation();
  const path = query.get('path') ?? '';
  const listed = useData(() => api.listTree(repo, commit, path || undefined), [repo, commit, path]);
  const c = listed.data?.commit;
  const segments = path ? path.split('/') : [];
  return (
    <section>
      <p className="crumbs">
        <Link href="/data">Data</Link> / <Link href={repoHref(repo)}>{repo}</Link> /
      </p>
      <h1>
        Commit <span className="mono">{id12(commit)}</span>
      </h1>
      <p>
        <Link href={`/lineage?of=${enc(`data:${repo}@${commit}`)}&direction=down`}>
          What this commit reached: runs, model versions, deployments
        </Link>
      </p>
      <ErrorMessage error={listed.error} />
      {c && (
        <dl className="facts panel">
          <dt>Message</dt>
          <dd>{c.message}</dd>
          <dt>Branch</dt>
          <dd>
            <Link href={`${repoHref(repo)}?branch=${enc(c.branch)}`}>{c.branch}</Link>
          </dd>
          <dt>Author</dt>
          <dd>
            {c.author}, {formatTime(c.createdAt)}
          </dd>
          <dt>Id</dt>
          <dd className="mono wrap">{c.id}</dd>
          <dt>Contents</dt>
          <dd>
            {c.files} files, {formatBytes(c.size)} (<Changes commit={c} /> against its parent)
          </dd>
          <dt>Parent</dt>
          <dd>
            {c.parents[0] ? (
              <>
                <Link href={commitHref(repo, c.parents[0])} className="mono">
                  {id12(c.parents[0])}
                </Link>{' '}
                · <Link href={diffHref(repo, c.parents[0], c.id)}>what changed</Link>
              </>
            ) : (
              'none (the first commit)'
            )}
          </dd>
        </dl>
      )}
      <h2>
        <Link href={commitHref(repo, commit)}>/</Link>
        {segments.map((segment, i) => (
          <span key={segments.slice(0, i + 1).join('/')}>
            <Link href={commitHref(repo, commit, segments.slice(0, i + 1).join('/'))}>{segment}</Link>/
          </span>
        ))}
      </h2>
      {!listed.data ? (
        !listed.error && <Loading />
      ) : listed.data.entries.length === 0 ? (
        <Empty title="This commit holds no files.">Its parent removed them all.</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Size</th>
                <th scope="col">sha256</th>
                <th scope="col">Profile</th>
              </tr>
            </thead>
            <tbody>
              {listed.data.entries.map((e) => {
                const name = path ? e.path.slice(path.length + 1) : e.path;
                return (
                  <tr key={e.path}>
                    <td>
                      {e.type === 'folder' ? (
                        <Link href={commitHref(repo, commit, e.path)}>{name}/</Link>
                      ) : (
                        <span className="mono">{name}</span>
                      )}
                    </td>
                    <td>
                      {formatBytes(e.size)}
                      {e.type === 'folder' && <span className="muted"> in {e.files} files</span>}
                    </td>
                    <td className="mono">{e.sha256 ? e.sha256.slice(0, 16) : '–'}</td>
                    <td>
                      {e.type === 'file' && TABULAR.test(e.path) ? (
                        <Link href={profileHref(repo, c?.id ?? commit, e.path)}>profile</Link>
                      ) : (
                        '–'
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function ProfilePage({ repo, commit }: { repo: string; commit: string }) {
  const { query } = useLocation();
  const path = query.get('path') ?? '';
  const [pending, setPending] = useState(true);
  const profile = useData(
    async () => {
      const p = await api.getProfile(repo, commit, path);
      setPending(p.state === 'pending');
      return p;
    },
    [repo, commit, path],
    pending ? 1000 : undefined,
  );
  const p = profile.data;
  return (
    <section>
      <p className="crumbs">
        <Link href="/data">Data</Link> / <Link href={repoHref(repo)}>{repo}</Link> /{' '}
        <Link href={commitHref(repo, commit)} className="mono">
          {id12(commit)}
        </Link>{' '}
        /
      </p>
      <h1>
        Profile of <span className="mono">{path}</span>
      </h1>
      <ErrorMessage error={profile.error} />
      {!p ? (
        !profile.error && <Loading />
      ) : p.state === 'pending' ? (
        <p className="muted" role="status">
          The profile is being computed; this page updates when it is ready.
        </p>
      ) : p.state === 'failed' || !p.profile ? (
        <p className="error" role="alert">
          No profile: {p.error}
        </p>
      ) : (
        <ProfileView profile={p} />
      )}
    </section>
  );
}

function ProfileView({ profile }: { profile: Profile }) {
  const data = profile.profile!;
  return (
    <>
      <p>
        <strong>{data.rows.toLocaleString()}</strong> rows, <strong>{data.columns.length}</strong> columns (
        {profile.format}
        ), computed in {data.elapsedMs} ms. <span className="muted mono">sha256 {profile.sha256.slice(0, 16)}</span>
      </p>
      <div className="columns">
        {data.columns.map((c) => (
          <article key={c.name} className="column-card" aria-label={`Column ${c.name}`}>
            <h3>
              <span className="mono">{c.name}</span>
              <span className="chip">{c.type}</span>
            </h3>
            <dl className="facts">
              <dt>nulls</dt>
              <dd>
                {c.nulls.toLocaleString()} ({data.rows ? ((100 * c.nulls) / data.rows).toFixed(1) : 0}%)
              </dd>
              <dt>distinct (approx.)</dt>
              <dd>{c.distinct.toLocaleString()}</dd>
              <dt>min – max</dt>
              <dd>
                {fmt(c.min)} – {fmt(c.max)}
              </dd>
              {c.mean !== null && (
                <>
                  <dt>mean ± stddev</dt>
                  <dd>
                    {short(c.mean)} ± {c.stddev === null ? '–' : short(c.stddev)}
                  </dd>
                </>
              )}
              {c.quantiles && (
                <>
                  <dt>p25 / p50 / p75</dt>
                  <dd>
                    {short(c.quantiles['p25'] ?? 0)} / {short(c.quantiles['p50'] ?? 0)} /{' '}
                    {short(c.quantiles['p75'] ?? 0)}
                  </dd>
                </>
              )}
            </dl>
            {c.histogram && <Histogram column={c.name} bins={c.histogram} />}
            {c.top && c.top.length > 0 && <TopValues column={c.name} values={c.top} />}
          </article>
        ))}
      </div>
    </>
  );
}

const fmt = (v: string | number | null) => (v === null ? '–' : typeof v === 'number' ? short(v) : v);

export function DiffPage({ repo }: { repo: string }) {
  const { query } = useLocation();
  const from = query.get('from') ?? '';
  const to = query.get('to') ?? '';
  const diff = useData(() => api.diffCommits(repo, from, to, 2000), [repo, from, to]);
  const d = diff.data;
  const rows = d
    ? [
        ...d.added.map((e) => ({ kind: 'added', e })),
        ...d.changed.map((e) => ({ kind: 'changed', e })),
        ...d.removed.map((e) => ({ kind: 'removed', e })),
      ].sort((a, b) => (a.e.path < b.e.path ? -1 : 1))
    : [];
  return (
    <section>
      <p className="crumbs">
        <Link href="/data">Data</Link> / <Link href={repoHref(repo)}>{repo}</Link> /
      </p>
      <h1>
        Changes <span className="mono">{id12(d?.from ?? from)}</span> →{' '}
        <span className="mono">{id12(d?.to ?? to)}</span>
      </h1>
      <ErrorMessage error={diff.error} />
      {!d ? (
        !diff.error && <Loading />
      ) : (
        <>
          <p>
            <span className="change-added">{d.totals.added} added</span>,{' '}
            <span className="change-changed">{d.totals.changed} changed</span>,{' '}
            <span className="change-removed">{d.totals.removed} removed</span> (+{formatBytes(d.totals.bytesAdded)} −
            {formatBytes(d.totals.bytesRemoved)}). <Link href={commitHref(repo, d.to)}>Browse the newer commit</Link>
            {d.truncated && <span className="muted"> Lists cut at 2,000 entries each.</span>}
          </p>
          {rows.length === 0 ? (
            <Empty title="The two commits hold the same files.">Nothing changed between them.</Empty>
          ) : (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Change</th>
                    <th scope="col">Path</th>
                    <th scope="col">Before</th>
                    <th scope="col">After</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map(({ kind, e }) => (
                    <tr key={e.path}>
                      <td className={`change-${kind}`}>{kind}</td>
                      <td className="mono">
                        {kind === 'removed' ? (
                          e.path
                        ) : (
                          <Link href={commitHref(repo, d.to, e.path.split('/').slice(0, -1).join('/'))}>{e.path}</Link>
                        )}
                      </td>
                      <td>{kind === 'added' ? '–' : formatBytes(kind === 'changed' ? (e.oldSize ?? 0) : e.size)}</td>
                      <td>{kind === 'removed' ? '–' : formatBytes(e.size)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}
