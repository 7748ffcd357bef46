/** The public surface of core/: other folders import from here, never a file inside. */
export { childEnv } from './child-env.ts';
export {
  type AuthSettings,
  BOOLEAN_SETTINGS,
  type ConsoleSettings,
  compileServerConfig,
  isLoopbackHost,
  LOG_LEVELS,
  type LogLevel,
  type OidcSettings,
  type RawSettings,
  type S3Settings,
  SETTINGS,
  type ServerConfig,
  type SettingName,
  settingsFromEnv,
} from './config.ts';
export {
  checkDataPath,
  checkDataPrefix,
  isWithin,
  joinDataPath,
  MAX_PATH_BYTES,
  parseCommitPath,
  parseRepoRef,
  parseRevision,
  type Revision,
  showPath,
} from './data-refs.ts';
export {
  ALLOWED_ENV,
  RESERVED_ENV,
  type ReservedEnvEntry,
  reservedEnvReason,
  reservedEnvTable,
  withoutReservedEnv,
} from './env-policy.ts';
export {
  ERROR_CODES,
  type ErrorCode,
  GrpcStatus,
  invalid,
  ModelportError,
  notFound,
  toModelportError,
} from './errors.ts';
export { type ImageReference, parseImageReference } from './image-reference.ts';
export { lazyPackage } from './lazy-package.ts';
export { checkAlias, checkName, type ModelRef, parseModelRef } from './names.ts';
export { Semaphore } from './semaphore.ts';
export { SlotList } from './slot-list.ts';
export {
  allocateTensorData,
  DATATYPE_SIZE,
  DATATYPES,
  type Datatype,
  elementCount,
  type InferRequest,
  type InferResponse,
  isDatatype,
  type ModelSignature,
  type RequestedOutput,
  type Tensor,
  type TensorData,
  type TensorSpec,
  tensorBytes,
} from './tensor.ts';
export { formatBytes, parseDuration, parseSize } from './units.ts';
