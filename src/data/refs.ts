/**
 * How commits are named on the command line and in the API: `repo@ref`, `repo@ref:path`, and revisions
 * `main`, `main~2`, a tag, or a commit id or unique prefix of at least 4 hex digits.
 */
import { checkName, ModelportError } from '../core/index.ts';
import { checkDataPath } from './paths.ts';

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
