// Bearer tokens: the secret is shown once at creation and only its SHA-256 is stored. A token has
// scopes and may be limited to zones; `admin` grants every scope, `node` grants only the internal
// endpoints that edge and DNS nodes use.
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Actor, ControlStore, Scope, TokenRecord } from '../store/types.ts';
import { API_ERRORS, ApiError, forbidden } from './envelope.ts';

export const SCOPES: readonly Scope[] = [
  'zones:read',
  'zones:write',
  'purge',
  'analytics:read',
  'tokens:write',
  'audit:read',
  'node',
  'admin',
  'workers:read',
  'workers:write',
  'firewall:read',
  'firewall:write',
];

/** A new secret: "mrd_" and 43 characters of base64url (256 random bits). */
export function newTokenSecret(): string {
  return `mrd_${randomBytes(32).toString('base64url')}`;
}

/** Tokens are random 256-bit values, so a plain SHA-256 is enough (no password stretching needed). */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export async function authenticate(store: ControlStore, req: FastifyRequest): Promise<TokenRecord> {
  const header = req.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match === null) {
    throw new ApiError(
      401,
      API_ERRORS.unauthenticated,
      'missing bearer token (Authorization: Bearer <token>)',
    );
  }
  const token = await store.findTokenBySecretHash(hashSecret(match[1] as string));
  if (token === undefined) throw new ApiError(401, API_ERRORS.unauthenticated, 'invalid or revoked token');
  return token;
}

/** Throws 403 unless the token has `scope` (admin has all; node has only node). */
export function requireScope(token: TokenRecord, scope: Scope): void {
  if (token.scopes.includes(scope)) return;
  if (scope !== 'node' && token.scopes.includes('admin')) return;
  if (scope === 'node' && token.scopes.includes('admin')) return;
  throw forbidden(`token lacks the ${scope} scope`);
}

/** Throws 403 when the token is limited to zones and `zoneId` is not one of them. */
export function requireZone(token: TokenRecord, zoneId: string): void {
  if (token.zones !== null && !token.zones.includes(zoneId))
    throw forbidden('token is not allowed on this zone');
}

export function actorOf(token: TokenRecord | null, req: FastifyRequest): Actor {
  return { token_id: token?.id ?? null, token_name: token?.name ?? 'system', ip: req.ip };
}
