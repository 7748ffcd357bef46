/**
 * Names and references shared by the API, the CLI and the gateway.
 *
 * Model and project names are lowercase DNS-1123 labels extended with `.` and `_` (so they also work as
 * Kubernetes-friendly identifiers once `.`/`_` are mapped); aliases start with a letter so that `fraud@3` is always
 * a version and `fraud@champion` always an alias.
 */
import { ModelportError } from './errors.ts';

const NAME = /^[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?$/;
const ALIAS = /^[a-z](?:[a-z0-9_-]{0,61}[a-z0-9])?$/;

export function checkName(value: string, field: string): string {
  if (!NAME.test(value)) {
    throw new ModelportError(
      'invalid_request',
      `${field} '${truncate(value)}' is not a valid name: use 1-63 lowercase letters, digits, '.', '_' or '-', starting and ending with a letter or digit`,
      { field },
    );
  }
  return value;
}

export function checkAlias(value: string, field = 'alias'): string {
  if (!ALIAS.test(value)) {
    throw new ModelportError(
      'invalid_request',
      `${field} '${truncate(value)}' is not a valid alias: use a lowercase letter followed by letters, digits, '_' or '-' (1-63 characters)`,
      { field },
    );
  }
  return value;
}

/** A model reference: `fraud`, `fraud@3` (a version) or `fraud@champion` (an alias). */
export interface ModelRef {
  name: string;
  /** A version number, an alias, or undefined for "the latest version". */
  version?: number;
  alias?: string;
  /** A prefix (7-64 hex digits) of the data commit the version was trained on: `fraud@commit:4f2a91c`. */
  commit?: string;
}

export function parseModelRef(value: string, field = 'model'): ModelRef {
  const at = value.indexOf('@');
  const name = checkName(at < 0 ? value : value.slice(0, at), field);
  if (at < 0) return { name };
  const ref = value.slice(at + 1);
  if (/^[1-9]\d{0,8}$/.test(ref)) return { name, version: Number(ref) };
  if (ref.startsWith('commit:')) {
    const commit = ref.slice('commit:'.length).toLowerCase();
    if (!/^[0-9a-f]{7,64}$/.test(commit)) {
      throw new ModelportError(
        'invalid_request',
        `${field} '${truncate(value)}': name a data commit by 7 to 64 hex digits of its id, e.g. ${name}@commit:4f2a91c`,
        { field },
      );
    }
    return { name, commit };
  }
  return { name, alias: checkAlias(ref, field) };
}

export function formatModelRef(ref: ModelRef): string {
  if (ref.version !== undefined) return `${ref.name}@${ref.version}`;
  if (ref.alias !== undefined) return `${ref.name}@${ref.alias}`;
  if (ref.commit !== undefined) return `${ref.name}@commit:${ref.commit}`;
  return ref.name;
}

function truncate(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}
