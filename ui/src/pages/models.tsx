/** Models: the registry's models, searchable by name. */
import { useState } from 'react';
import { api } from '../api.ts';
import { Empty, ErrorMessage, formatTime, List, useAction } from '../components.tsx';
import { Link, navigate, useLocation } from '../router.tsx';
import { useData } from '../use-data.ts';

export function ModelsPage() {
  const { query } = useLocation();
  const q = query.get('q') ?? '';
  const [text, setText] = useState(q);
  const models = useData(() => api.listModels(q || undefined), [q]);

  return (
    <section>
      <h1>Models</h1>
      <search>
        <form
          className="row"
          onSubmit={(event) => {
            event.preventDefault();
            navigate(text ? `/models?q=${encodeURIComponent(text)}` : '/models');
          }}
        >
          <label htmlFor="model-search">Search by name</label>
          <input id="model-search" type="search" value={text} onChange={(e) => setText(e.target.value)} />
          <button type="submit">Search</button>
        </form>
      </search>
      <List
        list={models}
        empty={
          q ? (
            <Empty title={`No model name contains “${q}”.`}>
              Try a shorter fragment, or <Link href="/models">show every model</Link>.
            </Empty>
          ) : (
            <Empty title="No models are registered yet.">
              Upload an ONNX file with the form below, or from the command line:{' '}
              <code>modelport models register fraud model.onnx</code>.
            </Empty>
          )
        }
        rowKey={(m) => m.name}
        columns={[
          {
            header: 'Name',
            cell: (m) => (
              <>
                <Link href={`/models/${encodeURIComponent(m.name)}`}>{m.name}</Link>
                {m.description && <div className="muted">{m.description}</div>}
              </>
            ),
          },
          { header: 'Latest', cell: (m) => m.latestVersion ?? '–' },
          { header: 'Versions', cell: (m) => m.versionCount },
          {
            header: 'Aliases',
            cell: (m) =>
              Object.entries(m.aliases).map(([alias, v]) => (
                <span key={alias} className="chip">
                  {alias} → {v}
                </span>
              )),
          },
          { header: 'Updated', cell: (m) => formatTime(m.updatedAt) },
        ]}
      />
      <RegisterForm />
    </section>
  );
}

/** Uploads an ONNX file as the next version of a model (new or existing). */
function RegisterForm() {
  const [name, setName] = useState('');
  const [file, setFile] = useState<File>();
  const action = useAction();
  return (
    <form
      className="panel"
      onSubmit={async (event) => {
        event.preventDefault();
        if (!file) return;
        const bytes = new Uint8Array(await file.arrayBuffer());
        if (await action.run(() => api.registerVersion(name, bytes))) navigate(`/models/${encodeURIComponent(name)}`);
      }}
    >
      <h2>Register a model version</h2>
      <div className="fields">
        <label>
          Model name
          <input value={name} onChange={(e) => setName(e.target.value)} required autoComplete="off" />
        </label>
        <label>
          ONNX file
          <input type="file" accept=".onnx" required onChange={(e) => setFile(e.target.files?.[0])} />
        </label>
        <button type="submit" className="primary" disabled={action.busy || !file}>
          {action.busy ? 'Uploading…' : 'Register'}
        </button>
      </div>
      <ErrorMessage error={action.error} />
    </form>
  );
}
