// TLS session-ticket keys shared by a PoP's nodes and rotated (RFC 5077 for TLS 1.2; RFC 8446 §4.6.1
// tickets for TLS 1.3 PSK resumption). A client's next connection may land on another node of the
// PoP (GeoDNS, anycast, a load balancer): with the same key there it resumes instead of paying for
// a full handshake.
//
// No coordination: every node derives key = HKDF-SHA256(ticket_key, salt, "<pop>\n<period>") with
// period = floor(now / periodMs), so the nodes of a PoP agree as long as their clocks agree to well
// within a period, a different PoP gets an unrelated key, and a key never repeats.
// Node's 48 bytes are a 16-byte key name, a 16-byte HMAC secret and a 16-byte AES key.
// Node holds one ticket key at a time: a ticket issued just before a rotation does not resume after
// it (a full handshake, nothing worse). Standalone nodes use a random key, rotated the same way.
import { hkdfSync, randomBytes } from 'node:crypto';
import type { Server } from 'node:tls';

export const TICKET_KEY_BYTES = 48;
export const DEFAULT_TICKET_PERIOD_MS = 12 * 3600_000;
const SALT = 'meridian-tls-ticket-keys/1';

/** The ticket key of `pop` for rotation period `period`, from the cluster's `ticket_key` secret. */
export function deriveTicketKey(secret: Buffer, pop: string, period: number): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, SALT, `${pop}\n${period}`, TICKET_KEY_BYTES));
}

export function periodAt(nowMs: number, periodMs: number): number {
  return Math.floor(nowMs / periodMs);
}

export interface TicketKeysOptions {
  /** The node's PoP (managed mode); null standalone. */
  pop: string | null;
  periodMs?: number;
  now?: () => number;
}

/** Holds the current key, installs it on attached servers and replaces it at each period change. */
export class TicketKeys {
  readonly #pop: string | null;
  readonly #periodMs: number;
  readonly #now: () => number;
  readonly #servers = new Set<Server>();
  #secret: Buffer | null = null;
  #period = -1;
  #key: Buffer;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  rotations = 0;

  constructor(options: TicketKeysOptions) {
    this.#pop = options.pop;
    this.#periodMs = options.periodMs ?? DEFAULT_TICKET_PERIOD_MS;
    this.#now = options.now ?? Date.now;
    this.#key = randomBytes(TICKET_KEY_BYTES);
    this.#rotate();
  }

  /** The key in use (tests, metrics: never log it). */
  current(): Buffer {
    return this.#key;
  }

  /** Sets (or changes) the shared secret: the snapshot's `ticket_key`, base64url. */
  setSecret(base64url: string | undefined): void {
    const secret = base64url === undefined ? null : Buffer.from(base64url, 'base64url');
    if (secret !== null && secret.length < 16) return; // not a usable secret: keep the current key
    if (this.#secret === null ? secret === null : secret !== null && secret.equals(this.#secret)) return;
    this.#secret = secret;
    this.#period = -1; // the next rotate installs a key from the new secret at once
    this.#rotate();
  }

  /** Installs the current key on `server` and every later one. */
  attach(server: Server): void {
    this.#servers.add(server);
    server.once('close', () => this.#servers.delete(server));
    server.setTicketKeys(this.#key);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #rotate(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#closed) return;
    const now = this.#now();
    const period = periodAt(now, this.#periodMs);
    if (period !== this.#period) {
      this.#period = period;
      this.#key =
        this.#secret === null || this.#pop === null
          ? randomBytes(TICKET_KEY_BYTES)
          : deriveTicketKey(this.#secret, this.#pop, period);
      this.rotations++;
      for (const server of this.#servers) server.setTicketKeys(this.#key);
    }
    // Wake just after the boundary (timers may fire a little early: checked again then).
    const wait = (period + 1) * this.#periodMs - now + 50;
    this.#timer = setTimeout(() => this.#rotate(), Math.min(wait, 2 ** 31 - 1));
    this.#timer.unref();
  }
}

/** Installs `keys` on the listener (the function the listener calls; kept for symmetry with attachOcsp). */
export function attachTicketKeys(server: Server, keys: TicketKeys): void {
  keys.attach(server);
}
