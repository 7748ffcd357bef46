/** Data repositories: versioned files with commits, branches, tags, diffs, profiles and events. */
export { type CommitFields, commitId } from './commit-id.ts';
export {
  type CommitInput,
  DataService,
  type DataServiceDeps,
  type ProfileScheduler,
  tabularFormat,
} from './data-service.ts';
export { appendEvent, listEvents, type NewEvent } from './events.ts';
export { checkDataPath, checkDataPrefix, isWithin, joinDataPath, MAX_PATH_BYTES } from './paths.ts';
export { ProfileWorker, type ProfileWorkerDeps } from './profile-worker.ts';
export { ProfileError, profileFile } from './profiler.ts';
export { parseCommitPath, parseRepoRef, parseRevision } from './refs.ts';
export { readTar, type TarEntry, type TarFile, tarSize, writeTar } from './tar.ts';
export type {
  Branch,
  ColumnProfile,
  CommitDiff,
  CommitResult,
  DataCommit,
  DataEvent,
  DataProfile,
  DataRepo,
  DiffEntry,
  FileProfile,
  HistogramBin,
  TabularFormat,
  Tag,
  TreeEntry,
} from './types.ts';
