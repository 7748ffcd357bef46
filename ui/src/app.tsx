/**
 * The console's frame: a skip link, the navigation with the project switcher and the signed-in user, and the page
 * the path names. With auth on and no session it shows the sign-in page; on loopback without auth it never does.
 */
import { useEffect, useSyncExternalStore } from 'react';
import { api, setProject, subscribeProject } from './api.ts';
import { ErrorMessage, Loading } from './components.tsx';
import { AuditPage } from './pages/audit.tsx';
import { CommitPage, DiffPage, ProfilePage, RepoPage, ReposPage } from './pages/data.tsx';
import { DeploymentPage } from './pages/deployment.tsx';
import { DeploymentsPage } from './pages/deployments.tsx';
import { JobsPage } from './pages/jobs.tsx';
import { LineagePage } from './pages/lineage.tsx';
import { LoginPage } from './pages/login.tsx';
import { ModelPage } from './pages/model.tsx';
import { ModelsPage } from './pages/models.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { PayloadPage, PayloadsPage } from './pages/payloads.tsx';
import { PipelinesPage } from './pages/pipelines.tsx';
import { ProjectsPage } from './pages/projects.tsx';
import { RunPage } from './pages/run.tsx';
import { ScanPage, ScansPage } from './pages/scans.tsx';
import { SettingsPage } from './pages/settings.tsx';
import { TokensPage } from './pages/tokens.tsx';
import { Link, navigate, useLocation } from './router.tsx';
import { loadSession, type SessionInfo, signOut, useSession } from './session.ts';
import { useData } from './use-data.ts';

const NAV = [
  ['/', 'Overview'],
  ['/models', 'Models'],
  ['/deployments', 'Deployments'],
  ['/data', 'Data'],
  ['/pipelines', 'Pipelines'],
  ['/scans', 'Scans'],
  ['/lineage', 'Lineage'],
  ['/jobs', 'Batch jobs'],
  ['/settings', 'Settings'],
  ['/audit', 'Audit log'],
] as const;

function page(path: string, session: SessionInfo) {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const [section, name] = parts;
  if (parts.length === 0) return <OverviewPage />;
  if (section === 'models' && parts.length === 1) return <ModelsPage />;
  if (section === 'models' && name && parts.length === 2) return <ModelPage name={name} />;
  if (section === 'deployments' && parts.length === 1) return <DeploymentsPage />;
  if (section === 'deployments' && name && parts.length === 2) return <DeploymentPage name={name} />;
  if (section === 'deployments' && name && parts[2] === 'payloads') {
    if (parts.length === 3) return <PayloadsPage name={name} />;
    if (parts.length === 4 && parts[3]) return <PayloadPage name={name} requestId={parts[3]} />;
  }
  if (section === 'jobs' && parts.length === 1) return <JobsPage />;
  if (section === 'data' && parts.length === 1) return <ReposPage />;
  if (section === 'data' && name && parts.length === 2) return <RepoPage repo={name} />;
  if (section === 'data' && name && parts[2] === 'diff' && parts.length === 3) return <DiffPage repo={name} />;
  if (section === 'data' && name && parts[2] === 'commits' && parts[3]) {
    if (parts.length === 4) return <CommitPage repo={name} commit={parts[3]} />;
    if (parts.length === 5 && parts[4] === 'profile') return <ProfilePage repo={name} commit={parts[3]} />;
  }
  if (section === 'pipelines' && parts.length === 1) return <PipelinesPage />;
  if (section === 'pipelines' && name && parts.length === 2) return <PipelinesPage name={name} />;
  if (section === 'runs' && name && parts.length === 2) return <RunPage id={name} />;
  if (section === 'scans' && parts.length === 1) return <ScansPage />;
  if (section === 'scans' && name && parts.length === 2) return <ScanPage id={name} />;
  if (section === 'lineage' && parts.length === 1) return <LineagePage />;
  if (section === 'settings' && parts.length === 1) return <SettingsPage />;
  if (section === 'audit' && parts.length === 1) return <AuditPage />;
  if (section === 'projects' && parts.length === 1) return <ProjectsPage />;
  if (section === 'tokens' && parts.length === 1) return <TokensPage session={session} />;
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        Nothing lives at <code>{path}</code>. Go to the <Link href="/">overview</Link>.
      </p>
    </section>
  );
}

export function App() {
  const { session, error } = useSession();
  const { path } = useLocation();
  const project = useSyncExternalStore(subscribeProject, () => api.project);
  useEffect(() => {
    void loadSession();
  }, []);
  const signedIn = session !== undefined && (!session.auth || session.signedIn);
  useEffect(() => {
    if (signedIn && path === '/login') navigate('/');
  }, [signedIn, path]);
  const active = (href: string) => (href === '/' ? path === '/' : path === href || path.startsWith(`${href}/`));
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link href="/" className="brand">
          Modelport
        </Link>
        {signedIn && (
          <nav aria-label="Main">
            {NAV.map(([href, label]) => (
              <Link key={href} href={href} aria-current={active(href) ? 'page' : undefined}>
                {label}
              </Link>
            ))}
          </nav>
        )}
        {signedIn && session && <Account session={session} project={project} active={active} />}
      </header>
      <main id="main" tabIndex={-1} key={project}>
        {session === undefined ? (
          error ? (
            <ErrorMessage error={error} />
          ) : (
            <Loading />
          )
        ) : signedIn ? (
          page(path, session)
        ) : (
          <LoginPage session={session} />
        )}
      </main>
    </>
  );
}

/** The project switcher, the user's pages and sign-out, at the right of the top bar. */
function Account({
  session,
  project,
  active,
}: {
  session: SessionInfo;
  project: string;
  active: (href: string) => boolean;
}) {
  const projects = useData(() => api.listProjects(), [session.user]);
  const names = projects.data?.map((p) => p.name);
  useEffect(() => {
    // A project the user has no role on (a stored choice, or `default`) switches to one they have.
    if (names && names.length > 0 && !names.includes(project)) setProject(names[0]!);
  }, [names, project]);
  return (
    <div className="account">
      <label className="switcher">
        <span>Project</span>
        <select value={project} onChange={(e) => setProject(e.target.value)} disabled={!names}>
          {(names ?? [project]).map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </label>
      <Link href="/projects" aria-current={active('/projects') ? 'page' : undefined}>
        Projects
      </Link>
      {session.auth && (
        <>
          <Link href="/tokens" aria-current={active('/tokens') ? 'page' : undefined}>
            Tokens
          </Link>
          <span className="who" title={session.serverAdmin ? 'server admin' : undefined}>
            {session.user}
          </span>
          <button type="button" className="signout" onClick={() => void signOut()}>
            Sign out
          </button>
        </>
      )}
    </div>
  );
}
