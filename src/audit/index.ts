/** The audit log: every mutating and every denied call, append-only, hash-chained (`modelport audit verify`). */
export {
  type AuditEvent,
  AuditLog,
  type AuditLogOptions,
  type AuditPrincipal,
  type AuditQuery,
  type AuditRecord,
  type AuditVerifyResult,
  canonicalRow,
  chainHash,
  GENESIS_HASH,
} from './audit-log.ts';
