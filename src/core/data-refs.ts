/**
 * Names in data repositories, shared by the server and the CLI like model references are.
 *
 * Paths inside a data repository: relative, `/`-separated, normalised. Every path from a user (a query, a tar
 * entry, a CLI argument) passes `checkDataPath` before it reaches a tree, so no path can climb out of the
 * repository or hide a control character.
 */
import { ModelportError } from './errors.ts';
import { checkName } from './names.ts';

/** Longest path, in UTF-8 bytes. */
export const MAX_PATH_BYTES = 1024;
const MAX_SEGMENT_BYTES = 255;

function refuse(field: string, shown: string, why: string): never {
  throw new ModelportError('invalid_request', `${field}: '${shown}' ${why}`, { field });
}

/** The path as it may be quoted in a message: control characters escaped, long ones cut. */
export function showPath(path: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point
  const escaped = path.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return escaped.length > 120 ? `${escaped.slice(0, 117)}...` : escaped;
}

/**
 * Returns the path normalised (a trailing `/` removed) or throws `invalid_request` naming `field` and the fix:
 * absolute paths, `.` and `..` segments, empty segments, backslashes, NUL and other control characters, and
 * paths over 1024 bytes are refused.
 */
export function checkDataPath(raw: string, field: string): string {
  const shown = showPath(raw);
  if (typeof raw !== 'string' || raw === '') refuse(field, shown, 'is empty; name a file such as data/train.csv');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(raw)) {
    refuse(field, shown, 'contains a NUL or control character; use printable characters only');
  }
  if (raw.startsWith('/'))
    refuse(field, shown, 'is absolute; use a path relative to the repository root, without the leading /');
  if (raw.includes('\\')) refuse(field, shown, "contains a backslash; separate folders with '/'");
  const path = raw.endsWith('/') ? raw.slice(0, -1) : raw;
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) refuse(field, shown, `is longer than ${MAX_PATH_BYTES} bytes`);
  for (const segment of path.split('/')) {
    if (segment === '..') refuse(field, shown, "contains '..'; paths cannot leave the repository");
    if (segment === '.' || segment === '')
      refuse(field, shown, "has an empty or '.' segment; remove the extra '/' or './'");
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES)
      refuse(field, shown, `has a segment longer than ${MAX_SEGMENT_BYTES} bytes`);
  }
  return path;
}

/** An optional folder prefix: '' (the root) or a checked path. */
export function checkDataPrefix(raw: string | undefined, field: string): string {
  if (raw === undefined || raw === '' || raw === '/') return '';
  return checkDataPath(raw, field);
}

/** `prefix/name`, or `name` at the root. */
export function joinDataPath(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}/${name}`;
}

/** True when `path` is `prefix` itself or inside the folder `prefix` ('' contains everything). */
export function isWithin(path: string, prefix: string): boolean {
  return prefix === '' || path === prefix || path.startsWith(`${prefix}/`);
}

export interface Revision {
  /** A branch, a tag or a commit id prefix. */
  name: string;
  /** How many first parents to walk back (`main~2` -> 2). */
  back: number;
}

const REVISION = /^([a-z0-9][a-z0-9._-]{0,63})(?:~(\d{1,6}))?$/;

export function parseRevision(value: string, field = 'ref'): Revision {
  const match = REVISION.exec(value);
  if (match === null) {
    throw new ModelportError(
      'invalid_request',
      `${field}: '${value.slice(0, 80)}' is not a commit reference; use a branch (main), a branch and a count back (main~2), a tag, or a commit id`,
      { field },
    );
  }
  return { name: match[1]!, back: match[2] === undefined ? 0 : Number(match[2]) };
}

/** `repo`, `repo@ref`: the repository and the optional revision. */
export function parseRepoRef(value: string, field = 'repo'): { repo: string; ref: string | undefined } {
  const at = value.indexOf('@');
  const repo = checkName(at < 0 ? value : value.slice(0, at), field);
  if (at < 0) return { repo, ref: undefined };
  const ref = value.slice(at + 1);
  parseRevision(ref, field);
  return { repo, ref };
}

/** `repo@ref:path` (path optional) as `data get`, `data ls` and `data profile` take it. */
export function parseCommitPath(value: string, field = 'ref'): { repo: string; ref: string; path: string | undefined } {
  const colon = value.indexOf(':');
  const head = colon < 0 ? value : value.slice(0, colon);
  const { repo, ref } = parseRepoRef(head, field);
  if (ref === undefined) {
    throw new ModelportError('invalid_request', `${field}: name a commit as ${repo}@main or ${repo}@<commit id>`, {
      field,
    });
  }
  const rawPath = colon < 0 ? undefined : value.slice(colon + 1);
  return { repo, ref, path: rawPath === undefined || rawPath === '' ? undefined : checkDataPath(rawPath, 'path') };
}
