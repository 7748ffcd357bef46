/**
 * Paths inside a data repository: relative, `/`-separated, normalised. Every path from a user (a query, a tar
 * entry, a CLI argument) passes `checkDataPath` before it reaches a tree, so no path can climb out of the
 * repository or hide a control character.
 */
import { ModelportError } from '../core/index.ts';

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
