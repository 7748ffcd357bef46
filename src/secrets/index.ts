/** Secrets: encrypted at rest (AES-256-GCM), listed by name only, resolved for runtimes as `SecretValue`s. */

export { generateSecretKey, parseSecretKey, type Sealed, SecretKey } from './secret-key.ts';
export {
  keyRotator,
  type LoadSecretKeyOptions,
  loadSecretKey,
  type RotateSecretKey,
  type SecretKeySource,
} from './secret-key-file.ts';
export {
  checkSecretName,
  checkSecretValue,
  MAX_SECRET_BYTES,
  SECRET_NAME,
  type SecretInfo,
  SecretStore,
  type SecretStoreDeps,
  type SecretsMetadata,
  secretKeyInUse,
} from './secret-store.ts';
export { SecretValue } from './secret-value.ts';
