/**
 * A commit's id: the sha256 of its canonical form, so the id names exactly one tree, one history and one set of
 * metadata. Anyone holding the fields can recompute it (`modelport data log -o json` prints them all).
 */
import { createHash } from 'node:crypto';

export interface CommitFields {
  tree: string;
  parents: readonly string[];
  branch: string;
  author: string;
  message: string;
  /** ISO 8601, UTC. */
  created: string;
}

/** sha256 (hex) of `modelport-commit-v1\n` followed by the fields as JSON, keys in this fixed order. */
export function commitId(fields: CommitFields): string {
  const canonical = JSON.stringify([
    fields.tree,
    [...fields.parents],
    fields.branch,
    fields.author,
    fields.message,
    fields.created,
  ]);
  return createHash('sha256').update(`modelport-commit-v1\n${canonical}`).digest('hex');
}
