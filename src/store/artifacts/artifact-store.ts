import type { Readable } from 'node:stream';

/** A stored blob, addressed by the sha256 of its contents (lowercase hex). */
export interface ArtifactRef {
  sha256: string;
  size: number;
}

export interface PutOptions {
  /** Refuse (with `payload_too_large`) a body larger than this many bytes. */
  maxBytes?: number;
  signal?: AbortSignal;
}

/**
 * Content-addressed artifact storage. Implementations: `FolderArtifactStore` (a local folder) and
 * `S3ArtifactStore` (any S3-compatible server). One conformance suite (artifact-store.conformance.ts) runs
 * against both.
 *
 * Guarantees: a `put` is atomic (a reader never sees a partial artifact) and idempotent (the same bytes give
 * the same ref); every read verifies the sha256 and fails with `artifact_corrupt` rather than serve bytes that
 * do not match.
 */
export interface ArtifactStore {
  /** Human-readable location, for logs and `modelport server` start-up output (never includes credentials). */
  readonly location: string;
  /** Stores a stream; returns its ref once it is durable. */
  put(body: Readable | AsyncIterable<Uint8Array>, options?: PutOptions): Promise<ArtifactRef>;
  /** Stores a local file (for example a spooled upload). */
  putFile(path: string, options?: PutOptions): Promise<ArtifactRef>;
  has(sha256: string): Promise<boolean>;
  /**
   * Reads the whole artifact. The stream errors with `artifact_corrupt` at its end if the bytes do not hash to
   * `sha256`, so a consumer must not act on the data before the stream ends cleanly.
   */
  open(sha256: string): Promise<Readable>;
  /** A local file path holding the verified artifact (cached for remote stores), for runtimes that load files. */
  localPath(sha256: string): Promise<string>;
  delete(sha256: string): Promise<void>;
  close(): Promise<void>;
}
