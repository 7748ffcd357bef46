/**
 * OCI image references (the grammar of the distribution spec that `docker pull` takes): an optional registry host,
 * a repository path, a tag and/or a digest. Used for model versions that are images and for base images.
 *
 * ```ts
 * parseImageReference('registry.example.com/sas/scorer:1.4', 'image');
 * // { repository: 'registry.example.com/sas/scorer', tag: '1.4', digest: undefined }
 * ```
 */
import { ModelportError } from './errors.ts';

export interface ImageReference {
  /** Registry host (when given) and path: `registry.example.com/sas/scorer`. */
  repository: string;
  tag: string | undefined;
  /** `sha256:<64 hex>` (or another algorithm of the spec) when the reference pins one. */
  digest: string | undefined;
}

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const HOST = '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)';
const REFERENCE = new RegExp(
  `^(?:(${HOST})/)?(${COMPONENT}(?:/${COMPONENT})*)(?::([\\w][\\w.-]{0,127}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$`,
);
const SHA256 = /^sha256:[0-9a-f]{64}$/;

/** Parses a reference; `invalid_request` naming `field` with an example when it is not one. */
export function parseImageReference(value: string, field: string): ImageReference {
  const fail = (why: string) =>
    new ModelportError(
      'invalid_request',
      `${field}: '${value.slice(0, 300)}' is not an OCI image reference (${why}); use registry.example.com/team/image:1.0 or ...@sha256:<64 hex digits>`,
      { field },
    );
  if (value.length === 0 || value.length > 512) throw fail('it must be 1 to 512 characters');
  const match = REFERENCE.exec(value);
  if (!match) throw fail('lowercase path components, an optional :tag and an optional @digest');
  const [, host, path = '', tag, digest] = match;
  // A first component without a dot, a port or "localhost" is a Docker Hub path, not a host: keep it in the path.
  if (host && !/[.:]/.test(host) && host !== 'localhost' && host !== host.toLowerCase()) {
    throw fail('the repository must be lowercase');
  }
  const repository = host ? `${host}/${path}` : path;
  if (repository.length > 255) throw fail('the repository name is longer than 255 characters');
  if (digest?.startsWith('sha256:') && !SHA256.test(digest)) throw fail('a sha256 digest is 64 lowercase hex digits');
  return { repository, tag, digest };
}
