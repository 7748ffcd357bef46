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
  /**
   * Called once the body is hashed and before the store makes it visible or skips it as a duplicate. Garbage
   * collection uses it: a writer records the digest here, so a concurrent sweep never deletes a blob the writer is
   * about to name (src/gc). A rejection fails the put and leaves nothing behind.
   */
  onHashed?: (ref: ArtifactRef) => Promise<void>;
}

/** A blob as `list` reports it. */
export interface StoredBlob {
  sha256: string;
  size: number;
  /** When the blob was last written (file mtime, object LastModified). */
  modified: Date;
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
  /**
   * Stores many small bodies held in memory (a folder of small files), with one durability barrier for the batch
   * rather than one per blob. Returns their refs in order; `onHashed` is called once with every ref before any is
   * made visible.
   */
  putMany(
    bodies: readonly Uint8Array[],
    options?: { onHashed?: (refs: ArtifactRef[]) => Promise<void> },
  ): Promise<ArtifactRef[]>;
  has(sha256: string): Promise<boolean>;
  /**
   * Reads the whole artifact. The stream errors with `artifact_corrupt` at its end if the bytes do not hash to
   * `sha256`, so a consumer must not act on the data before the stream ends cleanly.
   */
  open(sha256: string): Promise<Readable>;
  /** A local file path holding the verified artifact (cached for remote stores), for runtimes that load files. */
  localPath(sha256: string): Promise<string>;
  delete(sha256: string): Promise<void>;
  /** Every stored blob, in no particular order (for garbage collection). */
  list(): AsyncIterable<StoredBlob>;
  /**
   * Removes what interrupted puts left in this store's local temporary folder (a killed server's spooled
   * uploads); returns how many files went. Call it at start-up, before any put of this process begins.
   */
  sweepTemporary(): Promise<number>;
  close(): Promise<void>;
}
