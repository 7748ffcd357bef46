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
export { ProfileWorker, type ProfileWorkerDeps } from './profile-worker.ts';
export { ProfileError, profileFile } from './profiler.ts';
export { readTar, type TarEntry } from './tar.ts';
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
