/** Small shared pieces: error and empty states, status badges, confirmed actions. */
import { type ReactNode, useId, useRef, useState } from 'react';
import type { Deployment } from '../../src/deployments/types.ts';
import { errorText } from './api.ts';

/** An API error, shown as the API words it. */
export function ErrorMessage({ error }: { error: string | undefined }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error}
    </p>
  );
}

/** What is missing and what to do next. */
export function Empty({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      <div>{children}</div>
    </div>
  );
}

export function Loading() {
  return <p className="muted">Loading…</p>;
}

/** One column of a list table: its header and the cell an item gives. */
export interface Column<T> {
  /** Unique within the table (it keys the cells). */
  header: string;
  cell: (item: T) => ReactNode;
  /** A header that only screen readers read (an actions column). */
  hiddenHeader?: boolean;
  className?: string;
}

/** Items as a table in its scrolling wrapper: a header row, then a row per item. */
export function ListTable<T>({
  items,
  columns,
  rowKey,
  testId,
}: {
  items: readonly T[];
  columns: readonly Column<T>[];
  rowKey: (item: T) => string | number;
  testId?: string;
}) {
  return (
    <div className="table-wrap">
      <table data-testid={testId}>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.header} scope="col">
                {c.hiddenHeader ? <span className="sr-only">{c.header}</span> : c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {items.map((item) => (
            <tr key={rowKey(item)}>
              {columns.map((c) => (
                <td key={c.header} className={c.className}>
                  {c.cell(item)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/**
 * A loaded list as the list pages show it: the load's error, "Loading…" until it first arrives, `empty` when it
 * holds nothing, else the table (of the items `show` keeps, when given).
 */
export function List<T>({
  list,
  empty,
  show,
  ...table
}: {
  list: { data: readonly T[] | undefined; error: string | undefined };
  empty: ReactNode;
  show?: (item: T) => boolean;
  columns: readonly Column<T>[];
  rowKey: (item: T) => string | number;
  testId?: string;
}) {
  return (
    <>
      <ErrorMessage error={list.error} />
      {!list.data ? (
        !list.error && <Loading />
      ) : list.data.length === 0 ? (
        empty
      ) : (
        <ListTable items={show ? list.data.filter(show) : list.data} {...table} />
      )}
    </>
  );
}

/** A compose deployment: a bundle on disk that someone else starts, so Modelport observes no replicas or traffic. */
export const isBundle = (d: Deployment) => d.spec.backend === 'compose';

/**
 * A deployment's split in one line: the served targets with their weights; for a bundle, which Modelport never
 * observes, the spec's targets.
 */
export function trafficSummary(d: Deployment): string {
  const targets = isBundle(d)
    ? d.spec.traffic.map((t) => ({ name: t.model, weight: t.weight }))
    : d.status.targets.map((t) => ({ name: `${t.model}@${t.version}`, weight: t.weight }));
  return targets.map((t) => `${t.name} ${t.weight}%`).join(' · ');
}

/** The Ready condition of a deployment as a coloured word. */
export function StatusBadge({ deployment }: { deployment: Deployment }) {
  const failed = deployment.status.conditions.find((c) => c.type === 'Failed' && c.status === 'True');
  const ready = deployment.status.conditions.find((c) => c.type === 'Ready');
  const [label, tone] = failed
    ? ['Failed', 'bad']
    : ready?.status === 'True'
      ? ['Ready', 'good']
      : [ready?.reason ?? 'Pending', 'warn'];
  return <span className={`badge ${tone}`}>{label}</span>;
}

/**
 * Runs an API call from a button: disables while it runs and keeps the API's error to show. `run` returns the
 * error text, or undefined when the call succeeded.
 */
export function useAction(): {
  busy: boolean;
  error: string | undefined;
  run: (fn: () => Promise<unknown>) => Promise<boolean>;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  return {
    busy,
    error,
    run: async (fn) => {
      setBusy(true);
      setError(undefined);
      try {
        await fn();
        return true;
      } catch (e) {
        setError(errorText(e));
        return false;
      } finally {
        setBusy(false);
      }
    },
  };
}

/** A button that asks first: a modal dialog (focus trapped, Escape cancels) with the consequence spelled out. */
export function ConfirmButton({
  label,
  question,
  confirmLabel,
  onConfirm,
  danger = false,
  disabled = false,
}: {
  label: string;
  question: string;
  confirmLabel?: string;
  onConfirm: () => void;
  danger?: boolean;
  disabled?: boolean;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const id = useId();
  return (
    <>
      <button
        type="button"
        className={danger ? 'danger' : ''}
        disabled={disabled}
        onClick={() => dialog.current?.showModal()}
      >
        {label}
      </button>
      <dialog ref={dialog} aria-labelledby={id}>
        <p id={id}>{question}</p>
        <div className="row end">
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button
            type="button"
            className={danger ? 'danger' : 'primary'}
            onClick={() => {
              dialog.current?.close();
              onConfirm();
            }}
          >
            {confirmLabel ?? label}
          </button>
        </div>
      </dialog>
    </>
  );
}

export function formatTime(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
