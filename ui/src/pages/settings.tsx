/** Settings: the model types the server knows, and the project's secrets (names only; values never come back). */
import { useState } from 'react';
import { api } from '../api.ts';
import { ConfirmButton, Empty, ErrorMessage, formatTime, Loading, useAction } from '../components.tsx';
import { useData } from '../use-data.ts';

export function SettingsPage() {
  return (
    <section>
      <h1>Settings</h1>
      <Secrets />
      <ModelTypes />
    </section>
  );
}

function Secrets() {
  const secrets = useData(() => api.listSecrets(), []);
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const action = useAction();
  return (
    <>
      <h2>Secrets</h2>
      <p className="muted">
        Encrypted at rest and given to deployments as environment variables. Values are never shown.
      </p>
      <ErrorMessage error={secrets.error ?? action.error} />
      {!secrets.data ? (
        !secrets.error && <Loading />
      ) : secrets.data.length === 0 ? (
        <Empty title="No secrets yet.">
          Add one below, then name it in a deployment's <code>secrets</code>.
        </Empty>
      ) : (
        <ul className="list">
          {secrets.data.map((s) => (
            <li key={s.name} className="row between">
              <span>
                <span className="mono">{s.name}</span> <span className="muted">updated {formatTime(s.updatedAt)}</span>
              </span>
              <ConfirmButton
                label={`Delete ${s.name}`}
                confirmLabel="Delete"
                danger
                question={`Delete the secret ${s.name}? Deployments that use it will fail to start their next revision.`}
                onConfirm={() => void action.run(() => api.deleteSecret(s.name)).then(secrets.reload)}
              />
            </li>
          ))}
        </ul>
      )}
      <form
        className="panel"
        onSubmit={async (event) => {
          event.preventDefault();
          if (await action.run(() => api.setSecret(name, value))) {
            setName('');
            setValue('');
            await secrets.reload();
          }
        }}
      >
        <h3>Add or replace a secret</h3>
        <div className="fields">
          <label>
            Name
            <input value={name} onChange={(e) => setName(e.target.value)} required autoComplete="off" />
          </label>
          <label>
            Value
            <input
              type="password"
              value={value}
              onChange={(e) => setValue(e.target.value)}
              required
              autoComplete="new-password"
            />
          </label>
          <button type="submit" className="primary" disabled={action.busy}>
            Save secret
          </button>
        </div>
      </form>
    </>
  );
}

function ModelTypes() {
  const types = useData(() => api.listModelTypes(), []);
  return (
    <>
      <h2>Model types</h2>
      <ErrorMessage error={types.error} />
      {!types.data ? (
        !types.error && <Loading />
      ) : types.data.length === 0 ? (
        <Empty title="No model types.">
          Add one with <code>modelport modeltypes add -f type.yaml</code>.
        </Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Runtime</th>
                <th scope="col">Default base image</th>
                <th scope="col">Images</th>
                <th scope="col">Templates</th>
              </tr>
            </thead>
            <tbody>
              {types.data.map((t) => (
                <tr key={t.name}>
                  <td>
                    <strong>{t.name}</strong>
                    {t.description && <div className="muted">{t.description}</div>}
                  </td>
                  <td>{t.runtime}</td>
                  <td className="mono wrap">{t.default_base_image.value}</td>
                  <td>{t.available_base_images.map((i) => i.name).join(', ')}</td>
                  <td>{Object.keys(t.templates).join(', ') || '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
