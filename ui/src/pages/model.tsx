/**
 * A model: its versions, and for the chosen one the friendly signature (features and labels) beside the tensor one,
 * metrics, tags, aliases and lineage, with controls to move aliases and edit tags and the description.
 */
import { useState } from 'react';
import type { ModelVersion } from '../../../src/registry/types.ts';
import { api } from '../api.ts';
import { Empty, ErrorMessage, formatBytes, formatTime, Loading, useAction } from '../components.tsx';
import { Link } from '../router.tsx';
import { useData } from '../use-data.ts';
import { commitHref } from './data.tsx';

export function ModelPage({ name }: { name: string }) {
  const model = useData(() => api.getModel(name), [name]);
  const versions = useData(() => api.listVersions(name), [name]);
  const [chosen, setChosen] = useState<number>();
  const list = versions.data ?? [];
  const version = list.find((v) => v.version === chosen) ?? list.at(-1);

  return (
    <section>
      <p className="crumbs">
        <Link href="/models">Models</Link> /
      </p>
      <h1>{name}</h1>
      <ErrorMessage error={model.error ?? versions.error} />
      {model.data?.description && <p>{model.data.description}</p>}
      {!versions.data ? (
        !versions.error && <Loading />
      ) : list.length === 0 ? (
        <Empty title="This model has no versions.">
          Upload one: <code>modelport models register {name} model.onnx</code>.
        </Empty>
      ) : (
        <div className="split">
          <div>
            <h2>Versions</h2>
            <ul className="versions">
              {[...list].reverse().map((v) => (
                <li key={v.version}>
                  <button
                    type="button"
                    aria-pressed={v.version === version?.version}
                    onClick={() => setChosen(v.version)}
                  >
                    <strong>v{v.version}</strong>
                    {v.aliases.map((a) => (
                      <span key={a} className="chip">
                        {a}
                      </span>
                    ))}
                    <span className="muted">{formatTime(v.createdAt)}</span>
                  </button>
                </li>
              ))}
            </ul>
          </div>
          {version && (
            <VersionDetails
              version={version}
              onChange={async () => {
                await Promise.all([versions.reload(), model.reload()]);
              }}
            />
          )}
        </div>
      )}
    </section>
  );
}

function VersionDetails({ version: v, onChange }: { version: ModelVersion; onChange: () => Promise<void> }) {
  const pairs = (record: Record<string, string | number>) => Object.entries(record);
  const action = useAction();
  const act = async (fn: () => Promise<unknown>) => {
    if (await action.run(fn)) await onChange();
  };
  const [alias, setAlias] = useState('');
  const [tag, setTag] = useState('');
  const [description, setDescription] = useState<string>();
  const friendly = v.friendlySignature;
  return (
    <div>
      <h2>Version {v.version}</h2>
      <ErrorMessage error={action.error} />
      {description === undefined ? (
        <p>
          {v.description || <span className="muted">No description.</span>}{' '}
          <button type="button" className="link" onClick={() => setDescription(v.description)}>
            Edit description
          </button>
        </p>
      ) : (
        <form
          className="row"
          onSubmit={(event) => {
            event.preventDefault();
            void act(() => api.updateVersion(v.model, v.version, { description })).then(() =>
              setDescription(undefined),
            );
          }}
        >
          <label className="grow">
            Description
            <textarea value={description} rows={2} onChange={(e) => setDescription(e.target.value)} />
          </label>
          <button type="submit" className="primary" disabled={action.busy}>
            Save description
          </button>
          <button type="button" onClick={() => setDescription(undefined)}>
            Cancel
          </button>
        </form>
      )}
      <dl className="facts">
        <dt>Format</dt>
        <dd>
          {v.format}
          {v.modelType !== v.format && ` (model type ${v.modelType})`}
        </dd>
        <dt>Size</dt>
        <dd>{formatBytes(v.size)}</dd>
        <dt>SHA-256</dt>
        <dd className="mono wrap">{v.sha256}</dd>
        <dt>Aliases</dt>
        <dd>
          {v.aliases.length === 0 && <span className="muted">none</span>}
          {v.aliases.map((a) => (
            <span key={a} className="chip">
              {a}
              <button
                type="button"
                className="chip-remove"
                aria-label={`Remove alias ${a}`}
                disabled={action.busy}
                onClick={() => void act(() => api.deleteAlias(v.model, a))}
              >
                ×
              </button>
            </span>
          ))}
        </dd>
      </dl>
      <form
        className="row"
        onSubmit={(event) => {
          event.preventDefault();
          void act(() => api.setAlias(v.model, alias, v.version)).then(() => setAlias(''));
        }}
      >
        <label>
          Point an alias here
          <input
            value={alias}
            onChange={(e) => setAlias(e.target.value)}
            placeholder="champion"
            required
            autoComplete="off"
          />
        </label>
        <button type="submit" disabled={action.busy}>
          Move alias to v{v.version}
        </button>
      </form>
      {friendly?.features && (
        <>
          <h3>Features</h3>
          <p className="muted">
            What a request by name sends (V1 <code>instances</code> as objects, <code>modelport score</code> columns),
            in the order the model reads them.
          </p>
          <ol className="features">
            {friendly.features.map((f) => (
              <li key={f.name}>
                <span className="mono">{f.name}</span> <span className="muted">{f.type}</span>
                {f.values && <span className="muted"> ({f.values.join(', ')})</span>}
                {(f.min !== undefined || f.max !== undefined) && (
                  <span className="muted">
                    {' '}
                    {f.min ?? '−∞'}…{f.max ?? '∞'}
                  </span>
                )}
              </li>
            ))}
          </ol>
        </>
      )}
      {friendly?.outputs && (
        <>
          <h3>Prediction</h3>
          <dl className="facts">
            {friendly.outputs.labels && (
              <>
                <dt>Labels</dt>
                <dd>
                  {friendly.outputs.labels.map((l, i) => (
                    <span key={l} className="chip">
                      {i}: {l}
                    </span>
                  ))}
                </dd>
              </>
            )}
            {friendly.outputs.probabilities && (
              <>
                <dt>Probabilities</dt>
                <dd className="mono">{friendly.outputs.probabilities}</dd>
              </>
            )}
            {friendly.outputs.label && (
              <>
                <dt>Label output</dt>
                <dd className="mono">{friendly.outputs.label}</dd>
              </>
            )}
          </dl>
        </>
      )}
      <h3>Tensors</h3>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Tensor</th>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Shape</th>
            </tr>
          </thead>
          <tbody>
            {[
              ...v.signature.inputs.map((t) => ['input', t] as const),
              ...v.signature.outputs.map((t) => ['output', t] as const),
            ].map(([kind, t]) => (
              <tr key={`${kind}-${t.name}`}>
                <td>{kind}</td>
                <td className="mono">{t.name}</td>
                <td>{t.datatype}</td>
                <td className="mono">[{t.shape.join(', ')}]</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h3>Metrics</h3>
      {pairs(v.metrics).length === 0 ? (
        <p className="muted">
          No metrics. Record them at registration with <code>--metric auc=0.97</code>.
        </p>
      ) : (
        <dl className="facts">
          {pairs(v.metrics).map(([k, value]) => [<dt key={`k${k}`}>{k}</dt>, <dd key={`v${k}`}>{value}</dd>])}
        </dl>
      )}
      <h3>Tags</h3>
      {pairs(v.tags).length === 0 ? (
        <p className="muted">No tags.</p>
      ) : (
        <p>
          {pairs(v.tags).map(([k, value]) => (
            <span key={k} className="chip">
              {k}={value}
            </span>
          ))}
        </p>
      )}
      <form
        className="row"
        onSubmit={(event) => {
          event.preventDefault();
          const eq = tag.indexOf('=');
          void act(() =>
            api.updateVersion(v.model, v.version, { tags: { [tag.slice(0, eq)]: tag.slice(eq + 1) } }),
          ).then(() => setTag(''));
        }}
      >
        <label>
          Set a tag
          <input
            value={tag}
            onChange={(e) => setTag(e.target.value)}
            placeholder="team=risk"
            pattern="[^=]+=.*"
            title="key=value"
            required
            autoComplete="off"
          />
        </label>
        <button type="submit" disabled={action.busy}>
          Set tag
        </button>
      </form>
      <h3>Lineage</h3>
      <dl className="facts">
        <dt>Source</dt>
        <dd>{v.lineage.source ?? <span className="muted">not recorded</span>}</dd>
        <dt>Data commit</dt>
        <dd className="mono wrap">
          {v.lineage.dataCommit ? (
            <DataCommitLink value={v.lineage.dataCommit} />
          ) : (
            <span className="muted">not recorded</span>
          )}
        </dd>
        <dt>Pipeline run</dt>
        <dd className="mono">{v.lineage.pipelineRun ?? <span className="muted">not recorded</span>}</dd>
      </dl>
      <p>
        <Link href={`/lineage?of=${encodeURIComponent(`model:${v.model}@${v.version}`)}`}>
          Trace {v.model}@{v.version}: its data, run and gate, and the deployments it reached
        </Link>
      </p>
    </div>
  );
}

/** `repo@<commit id>` as a link to the commit's tree (older free-form values are shown as they are). */
function DataCommitLink({ value }: { value: string }) {
  const [repo, commit] = value.split('@');
  if (!repo || !commit || !/^[0-9a-f]{64}$/.test(commit)) return <>{value}</>;
  return <Link href={commitHref(repo, commit)}>{value}</Link>;
}
