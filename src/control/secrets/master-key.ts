// The master key that encrypts secrets at rest in the control store (certificate private keys,
// cluster keys): AES-256-GCM, a fresh 96-bit IV per value (NIST SP 800-38D §8.2.2: never reuse an
// IV under one key). A sealed value names the key that sealed it, so a store half-way through a
// rotation, or opened with the wrong key, is told apart from a corrupt one:
//   mk1:<key id>:<iv>:<ciphertext || 16-byte tag>      (base64url fields)
// The key id is the first 8 bytes of SHA-256("meridian master key id" || key): it names the key
// without revealing it.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const PREFIX = 'mk1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A master key that is malformed, unreadable, missing where required, or not the store's. */
export class MasterKeyError extends Error {
  override name = 'MasterKeyError';
}

export class MasterKey {
  /** 16 hex characters naming the key (not secret). */
  readonly id: string;
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new MasterKeyError(`a master key is 32 bytes, got ${key.length}`);
    this.#key = Buffer.from(key);
    this.id = createHash('sha256').update('meridian master key id').update(key).digest('hex').slice(0, 16);
  }

  /** A new random key (tests, and the key file the control plane creates for SQLite). */
  static generate(): MasterKey {
    return new MasterKey(randomBytes(32));
  }

  /** The key as written in MERIDIAN_MASTER_KEY or a key file: standard base64 of 32 bytes. */
  toBase64(): string {
    return this.#key.toString('base64');
  }

  seal(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${PREFIX}:${this.id}:${iv.toString('base64url')}:${body.toString('base64url')}`;
  }

  /** Throws MasterKeyError when the value was sealed by another key, altered, or is not sealed. */
  open(sealed: string): string {
    const parts = sealed.split(':');
    if (parts.length !== 4 || parts[0] !== PREFIX) throw new MasterKeyError('not a sealed value');
    const [, keyId, ivText, bodyText] = parts as [string, string, string, string];
    if (keyId !== this.id) {
      throw new MasterKeyError(`value sealed by master key ${keyId}, this is master key ${this.id}`);
    }
    const iv = Buffer.from(ivText, 'base64url');
    const body = Buffer.from(bodyText, 'base64url');
    if (iv.length !== IV_BYTES || body.length < TAG_BYTES) throw new MasterKeyError('malformed sealed value');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, iv);
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    try {
      return Buffer.concat([
        decipher.update(body.subarray(0, body.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new MasterKeyError(`sealed value fails authentication under master key ${this.id}`);
    }
  }
}

/** Whether a stored value is sealed (any key), as opposed to a clear legacy value. */
export function isSealed(value: string): boolean {
  return value.startsWith(`${PREFIX}:`);
}

/** The id of the key that sealed a value, or null when it is not sealed. */
export function sealedKeyId(value: string): string | null {
  return isSealed(value) ? (value.split(':')[1] ?? null) : null;
}

/** Parses standard base64 (or base64url) of exactly 32 bytes; `source` names where it came from. */
export function parseMasterKey(text: string, source: string): MasterKey {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    throw new MasterKeyError(
      `${source}: a master key is 32 bytes in base64 (44 characters; make one with "openssl rand -base64 32")`,
    );
  }
  return new MasterKey(Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
}
