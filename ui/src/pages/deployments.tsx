/** Deployments: the list with status and traffic, and a form that deploys a model version. */
import { useState } from 'react';
import { api } from '../api.ts';
import { Empty, ErrorMessage, Loading, StatusBadge, trafficSummary, useAction } from '../components.tsx';
import { Link, navigate } from '../router.tsx';
import { useData } from '../use-data.ts';

export function DeploymentsPage() {
  const deployments = useData(() => api.listDeployments(), [], 5000);
  return (
    <section>
      <h1>Deployments</h1>
      <ErrorMessage error={deployments.error} />
      {!deployments.data ? (
        !deployments.error && <Loading />
      ) : deployments.data.length === 0 ? (
        <Empty title="No deployments yet.">Deploy a registered model with the form below.</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Revision</th>
                <th scope="col">Traffic</th>
              </tr>
            </thead>
            <tbody>
              {deployments.data.map((d) => (
                <tr key={d.name}>
                  <td>
                    <Link href={`/deployments/${encodeURIComponent(d.name)}`}>{d.name}</Link>
                  </td>
                  <td>
                    <StatusBadge deployment={d} />
                  </td>
                  <td>{d.status.servingRevision ?? '–'}</td>
                  <td>{trafficSummary(d)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <CreateDeployment />
    </section>
  );
}

function CreateDeployment() {
  const models = useData(() => api.listModels(), []);
  const [name, setName] = useState('');
  const [model, setModel] = useState('');
  const [ref, setRef] = useState('');
  const action = useAction();
  const chosen = model || models.data?.[0]?.name || '';
  const versions = useData(() => (chosen ? api.listVersions(chosen) : Promise.resolve([])), [chosen]);
  const found = models.data?.find((m) => m.name === chosen);
  // What to serve: an alias (it is pinned to its version when the deployment is made), a version, or the latest.
  const choices = [
    ...Object.entries(found?.aliases ?? {}).map(([alias, v]) => ({
      value: `${chosen}@${alias}`,
      label: `${alias} (v${v})`,
    })),
    ...[...(versions.data ?? [])]
      .reverse()
      .map((v) => ({ value: `${chosen}@${v.version}`, label: `version ${v.version}` })),
  ];
  const target = choices.some((c) => c.value === ref) ? ref : (choices[0]?.value ?? chosen);

  return (
    <form
      className="panel"
      onSubmit={async (event) => {
        event.preventDefault();
        const deployName = name || chosen;
        const ok = await action.run(() =>
          api.createDeployment(deployName, { traffic: [{ model: target, weight: 100 }] }),
        );
        if (ok) navigate(`/deployments/${encodeURIComponent(deployName)}`);
      }}
    >
      <h2>Deploy a model</h2>
      {models.data?.length === 0 ? (
        <p className="muted">
          Register a model first: <code>modelport models register fraud model.onnx</code>.
        </p>
      ) : (
        <div className="fields">
          <label>
            Model
            <select
              value={chosen}
              onChange={(e) => {
                setModel(e.target.value);
                setRef('');
              }}
            >
              {(models.data ?? []).map((m) => (
                <option key={m.name} value={m.name}>
                  {m.name}
                </option>
              ))}
            </select>
          </label>
          <label>
            Version or alias
            <select value={target} onChange={(e) => setRef(e.target.value)}>
              {choices.map((c) => (
                <option key={c.value} value={c.value}>
                  {c.label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Deployment name
            <input value={name} placeholder={chosen} onChange={(e) => setName(e.target.value)} />
          </label>
          <button type="submit" className="primary" disabled={action.busy || !chosen}>
            Deploy
          </button>
        </div>
      )}
      <ErrorMessage error={action.error ?? models.error} />
    </form>
  );
}
