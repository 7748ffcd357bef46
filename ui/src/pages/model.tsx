/** A model: its versions, and for the chosen one the signature, metrics, tags, aliases and lineage. */
import { useState } from 'react';
import type { ModelVersion } from '../../../src/registry/types.ts';
import { api } from '../api.ts';
import { Empty, ErrorMessage, formatBytes, formatTime, Loading } from '../components.tsx';
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
          {version && <VersionDetails version={version} />}
        </div>
      )}
    </section>
  );
}

function VersionDetails({ version: v }: { version: ModelVersion }) {
  const pairs = (record: Record<string, string | number>) => Object.entries(record);
  return (
    <div>
      <h2>Version {v.version}</h2>
      {v.description && <p>{v.description}</p>}
      <dl className="facts">
        <dt>Format</dt>
        <dd>
          {v.format} ({v.modelType})
        </dd>
        <dt>Size</dt>
        <dd>{formatBytes(v.size)}</dd>
        <dt>SHA-256</dt>
        <dd className="mono wrap">{v.sha256}</dd>
        <dt>Aliases</dt>
        <dd>{v.aliases.length ? v.aliases.join(', ') : <span className="muted">none</span>}</dd>
      </dl>
      <h3>Signature</h3>
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
        <p className="muted">
          No tags. Add them at registration with <code>--tag team=risk</code>.
        </p>
      ) : (
        <p>
          {pairs(v.tags).map(([k, value]) => (
            <span key={k} className="chip">
              {k}={value}
            </span>
          ))}
        </p>
      )}
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
    </div>
  );
}

/** `repo@<commit id>` as a link to the commit's tree (older free-form values are shown as they are). */
function DataCommitLink({ value }: { value: string }) {
  const [repo, commit] = value.split('@');
  if (!repo || !commit || !/^[0-9a-f]{64}$/.test(commit)) return <>{value}</>;
  return <Link href={commitHref(repo, commit)}>{value}</Link>;
}
