/**
 * Where a scan's files come from: the data repositories (a file at a commit, the commit pinned to its id, and the
 * stored profile of a file) and uploads (a blob of the artifact store), copied into the scan's own folder so that
 * DuckDB reads one local file in a folder of its own.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ModelportError } from '../core/index.ts';
import type { DataProfile } from '../data/index.ts';
import { type DataFileRef, splitRepo, type UseCaseSpec } from './spec.ts';

/** The data parts scans read (the composition root passes the data service and the artifact store). */
export interface DatasetSource {
  /** A file at a commit: the pinned commit id, the file's digest and its bytes. */
  openFile(
    project: string,
    repo: string,
    ref: string,
    path: string,
  ): Promise<{ commit: string; sha256: string; stream: Readable }>;
  /** An uploaded blob; `not_found` when no upload has the digest. */
  openUpload(sha256: string): Promise<Readable>;
  /** The stored profile of a file at a commit, or null while it is pending or when it failed. */
  profile(project: string, repo: string, commit: string, path: string): Promise<DataProfile | null>;
  /** The tabular files of a commit (for a model's training commit, whose file name may differ). */
  files(project: string, repo: string, commit: string): Promise<string[]>;
}

export interface LocalDataset {
  file: string;
  repo: string | null;
  commit: string | null;
  path: string | null;
  sha256: string;
}

const refuseFile = (field: string, error: unknown): never => {
  if (error instanceof ModelportError && (error.code === 'not_found' || error.code === 'invalid_request')) {
    throw new ModelportError('invalid_request', `${field}: ${error.message}`, { field, cause: error });
  }
  throw error;
};

/** Copies a data file at a commit into `dir`. */
export async function fetchDataFile(
  source: DatasetSource,
  project: string,
  ref: DataFileRef,
  dir: string,
  field: string,
): Promise<LocalDataset> {
  const where = splitRepo(ref.repo, project, `${field}.repo`);
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'dataset.csv');
  let opened: Awaited<ReturnType<DatasetSource['openFile']>>;
  try {
    opened = await source.openFile(where.project, where.repo, ref.commit, ref.path);
  } catch (error) {
    return refuseFile(field, error);
  }
  await pipeline(opened.stream, createWriteStream(file));
  return { file, repo: ref.repo, commit: opened.commit, path: ref.path, sha256: opened.sha256 };
}

/** Copies the use case's dataset (a data file or an upload) into `dir`. */
export async function fetchDataset(
  source: DatasetSource,
  project: string,
  spec: UseCaseSpec,
  dir: string,
): Promise<LocalDataset> {
  const dataset = spec.dataset;
  if ('repo' in dataset) return fetchDataFile(source, project, dataset, dir, 'dataset');
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'dataset.csv');
  let stream: Readable;
  try {
    stream = await source.openUpload(dataset.upload);
  } catch (error) {
    if (error instanceof ModelportError && error.code === 'not_found') {
      throw new ModelportError(
        'invalid_request',
        `dataset.upload: no uploaded dataset has the digest ${dataset.upload.slice(0, 12)}...; upload it with usecases apply -f (a local dataset path) or the uploadScanDataset operation`,
        { field: 'dataset.upload' },
      );
    }
    throw error;
  }
  await pipeline(stream, createWriteStream(file));
  return { file, repo: null, commit: null, path: null, sha256: dataset.upload };
}
