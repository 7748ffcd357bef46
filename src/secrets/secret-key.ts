/**
 * The key that encrypts secrets at rest, and the sealing itself: AES-256-GCM with a fresh random 96-bit nonce per
 * write and the (project, name) pair as additional authenticated data, so a ciphertext copied to another row, or
 * altered by one bit, does not decrypt.
 *
 * The key bytes never leave this object: it prints as `[secret key <id>]`, and its `id` (a short hash) is what rows
 * record to say which key wrote them.
 *
 * ```ts
 * const key = parseSecretKey(env.MODELPORT_SECRET_KEY);         // base64 or hex of 32 bytes
 * const sealed = key.seal('hunter2', 'default', 'DB_PASSWORD');  // { ciphertext, nonce } as base64
 * key.open(sealed, 'default', 'DB_PASSWORD');                    // 'hunter2', or undefined when it does not verify
 * ```
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { ModelportError } from '../core/index.ts';

const ALGORITHM = 'aes-256-gcm';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** What a row stores: base64 of ciphertext-then-tag, and base64 of the nonce. */
export interface Sealed {
  ciphertext: string;
  nonce: string;
}

export class SecretKey {
  readonly #bytes: Buffer;
  /** 16 hex digits of a hash of the key: safe to store, print and compare. */
  readonly id: string;

  /** `bytes` must be 32 bytes; prefer `parseSecretKey` or `generateSecretKey`. */
  constructor(bytes: Uint8Array) {
    if (bytes.byteLength !== 32) throw new TypeError('a secret key is 32 bytes');
    this.#bytes = Buffer.from(bytes);
    this.id = createHash('sha256').update('modelport-secret-key\0').update(this.#bytes).digest('hex').slice(0, 16);
  }

  seal(plaintext: string, project: string, name: string): Sealed {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.#bytes, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(project, name));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return { ciphertext: body.toString('base64'), nonce: nonce.toString('base64') };
  }

  /** The plaintext, or undefined when the ciphertext, nonce, project or name do not verify under this key. */
  open(sealed: Sealed, project: string, name: string): string | undefined {
    const body = Buffer.from(sealed.ciphertext, 'base64');
    const nonce = Buffer.from(sealed.nonce, 'base64');
    if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv(ALGORITHM, this.#bytes, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(project, name));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      return undefined;
    }
  }

  /** The key as base64, for writing the key file. */
  export(): string {
    return this.#bytes.toString('base64');
  }

  toString(): string {
    return `[secret key ${this.id}]`;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

function aad(project: string, name: string): Buffer {
  return Buffer.from(`modelport-secret/v1\0${project}\0${name}`, 'utf8');
}

/**
 * Parses 32 bytes written as 64 hex digits or as base64 (standard or URL-safe). The error names `field` and never
 * repeats the text.
 */
export function parseSecretKey(text: string, field = 'MODELPORT_SECRET_KEY'): SecretKey {
  const trimmed = text.trim();
  let bytes: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) bytes = Buffer.from(trimmed, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) bytes = Buffer.from(trimmed, 'base64');
  if (bytes?.length !== 32) {
    throw new ModelportError(
      'invalid_config',
      `${field}: use 32 random bytes as base64 or hex, e.g. the output of \`openssl rand -base64 32\``,
      { field },
    );
  }
  return new SecretKey(bytes);
}

export function generateSecretKey(): SecretKey {
  return new SecretKey(randomBytes(32));
}
