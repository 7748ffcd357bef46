/**
 * "Try it": builds an Open Inference Protocol (V2) request from the serving version's signature, lets the user edit
 * it, sends it to the deployment's endpoint and shows the answer. This is the data plane, not the control-plane
 * API, so it is a plain fetch to /v2 rather than a client call.
 */
import { useEffect, useId, useState } from 'react';
import type { TensorSpec } from '../../src/core/tensor.ts';
import type { Deployment } from '../../src/deployments/types.ts';
import { api, consoleFetch } from './api.ts';
import { ErrorMessage } from './components.tsx';
import { useData } from './use-data.ts';

/** A request with every input zero-filled, dynamic dimensions set to 1. */
export function sampleRequest(inputs: readonly TensorSpec[]): string {
  const body = {
    inputs: inputs.map((t) => {
      const shape = t.shape.map((d) => (d < 0 ? 1 : d));
      const n = shape.reduce((a, b) => a * b, 1);
      const zero = t.datatype === 'BYTES' ? '' : t.datatype === 'BOOL' ? false : 0;
      return {
        name: t.name,
        datatype: t.datatype,
        shape,
        data: Array.from({ length: Math.min(n, 10_000) }, () => zero),
      };
    }),
  };
  return JSON.stringify(body);
}

export function TryIt({ deployment: d }: { deployment: Deployment }) {
  const target = d.status.targets[0];
  const version = useData(
    async () => (target ? api.getVersion(target.model, target.version) : undefined),
    [target?.model, target?.version],
  );
  const [body, setBody] = useState('');
  const [answer, setAnswer] = useState<{ status: number; text: string }>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const id = useId();
  const inputs = version.data?.signature.inputs;
  useEffect(() => {
    if (inputs) setBody(sampleRequest(inputs));
  }, [inputs]);

  const send = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const res = await consoleFetch(`/v2/models/${encodeURIComponent(d.name)}/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const text = await res.text();
      let pretty = text;
      try {
        pretty = JSON.stringify(JSON.parse(text), null, 2);
      } catch {}
      setAnswer({ status: res.status, text: pretty });
    } catch (e) {
      setError(`The request was not sent: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="panel">
      <h2>Try it</h2>
      <ErrorMessage error={version.error ?? error} />
      <label htmlFor={id}>V2 request to /v2/models/{d.name}/infer (edit the data)</label>
      <textarea id={id} rows={8} value={body} onChange={(e) => setBody(e.target.value)} spellCheck={false} />
      <div className="row">
        <button type="button" className="primary" onClick={() => void send()} disabled={busy || !body}>
          Send request
        </button>
        {inputs && (
          <button type="button" onClick={() => setBody(sampleRequest(inputs))}>
            Reset request
          </button>
        )}
      </div>
      {answer && (
        <output className="answer" aria-live="polite">
          <strong className={answer.status < 400 ? 'ok' : 'bad'}>HTTP {answer.status}</strong>
          <pre data-testid="try-answer">{answer.text}</pre>
        </output>
      )}
    </div>
  );
}
