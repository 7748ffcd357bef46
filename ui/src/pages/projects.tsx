/** The projects the user has a role on, with the role, and a way to switch the console to one. */
import { api, setProject } from '../api.ts';
import { Empty, ErrorMessage, formatTime, Loading } from '../components.tsx';
import { navigate } from '../router.tsx';
import { useData } from '../use-data.ts';

export function ProjectsPage() {
  const data = useData(async () => {
    const [projects, me] = await Promise.all([api.listProjects(), api.whoami()]);
    return { projects, me };
  }, []);
  const current = api.project;
  return (
    <section>
      <h1>Projects</h1>
      <ErrorMessage error={data.error} />
      {!data.data ? (
        !data.error && <Loading />
      ) : data.data.projects.length === 0 ? (
        <Empty title="You have no role on any project yet.">
          Ask a project admin: <code>modelport members add &lt;project&gt; {data.data.me.user ?? 'you'} viewer</code>.
        </Empty>
      ) : (
        <ul className="list projects">
          {data.data.projects.map((p) => {
            const role = data.data?.me.roles.find((r) => r.project === p.name);
            const label = data.data?.me.serverAdmin ? 'server admin' : (role?.role ?? 'no role');
            return (
              <li key={p.name} className="row between">
                <span>
                  <strong>{p.name}</strong> {p.name === current && <span className="badge good">current</span>}
                  <br />
                  <span className="muted">
                    your role: {label}
                    {role?.code && role.role === 'editor' ? ' (may register code)' : ''} · created{' '}
                    {formatTime(p.createdAt)}
                  </span>
                </span>
                {p.name !== current && (
                  <button
                    type="button"
                    onClick={() => {
                      setProject(p.name);
                      navigate('/');
                    }}
                  >
                    Open {p.name}
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
