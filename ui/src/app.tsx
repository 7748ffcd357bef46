/** The console's frame: a skip link, the navigation, and the page the path names. */
import { AuditPage } from './pages/audit.tsx';
import { CommitPage, DiffPage, ProfilePage, RepoPage, ReposPage } from './pages/data.tsx';
import { DeploymentPage } from './pages/deployment.tsx';
import { DeploymentsPage } from './pages/deployments.tsx';
import { JobsPage } from './pages/jobs.tsx';
import { ModelPage } from './pages/model.tsx';
import { ModelsPage } from './pages/models.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { PipelinesPage } from './pages/pipelines.tsx';
import { RunPage } from './pages/run.tsx';
import { SettingsPage } from './pages/settings.tsx';
import { Link, useLocation } from './router.tsx';

const NAV = [
  ['/', 'Overview'],
  ['/models', 'Models'],
  ['/deployments', 'Deployments'],
  ['/data', 'Data'],
  ['/pipelines', 'Pipelines'],
  ['/jobs', 'Batch jobs'],
  ['/settings', 'Settings'],
  ['/audit', 'Audit log'],
] as const;

function page(path: string) {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const [section, name] = parts;
  if (parts.length === 0) return <OverviewPage />;
  if (section === 'models' && parts.length === 1) return <ModelsPage />;
  if (section === 'models' && name && parts.length === 2) return <ModelPage name={name} />;
  if (section === 'deployments' && parts.length === 1) return <DeploymentsPage />;
  if (section === 'deployments' && name && parts.length === 2) return <DeploymentPage name={name} />;
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
  if (section === 'settings' && parts.length === 1) return <SettingsPage />;
  if (section === 'audit' && parts.length === 1) return <AuditPage />;
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
  const { path } = useLocation();
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
        <nav aria-label="Main">
          {NAV.map(([href, label]) => (
            <Link key={href} href={href} aria-current={active(href) ? 'page' : undefined}>
              {label}
            </Link>
          ))}
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        {page(path)}
      </main>
    </>
  );
}
