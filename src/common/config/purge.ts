// Purge requests: what `POST /client/v4/zones/{id}/purge_cache` accepts (Cloudflare's v4 body) and
// what the `purge` event carries to every node. One zod schema: the API validates with it (errors
// name the field), the OpenAPI document is generated from it, and nodes trust values that passed it.
import { z } from 'zod';

/** List limits (documented in the README and docs/purge.md). */
export const PURGE_LIMITS = Object.freeze({ files: 500, prefixes: 100, hosts: 100, tags: 500 });

const absoluteUrl = z
  .string()
  .max(4096)
  .refine((u) => /^https?:\/\/[^/?#]+/i.test(u) && URL.canParse(u), 'must be an absolute http(s) URL');

/** A URL, or `{url, headers}` to purge only the variant those request headers select. */
const PurgeFileSchema = z.union([
  absoluteUrl,
  z
    .object({
      url: absoluteUrl,
      headers: z.record(z.string().min(1).max(256), z.string().max(8192)),
    })
    .strict(),
]);

/** `host/path` (Cloudflare's form) or `http(s)://host/path`: every URL starting with it. */
const prefix = z
  .string()
  .min(1)
  .max(2048)
  .refine(
    (p) => /^(https?:\/\/)?[a-z0-9.-]+(:\d+)?\/.*/i.test(p),
    'must be host/path (e.g. www.example.com/img/)',
  );

const host = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9.-]+$/i, 'must be a hostname')
  .transform((h) => h.toLowerCase());

const tag = z.string().min(1).max(256).regex(/^\S+$/, 'must not contain spaces');

export const PurgeRequestSchema = z
  .object({
    files: z.array(PurgeFileSchema).min(1).max(PURGE_LIMITS.files).optional(),
    prefixes: z.array(prefix).min(1).max(PURGE_LIMITS.prefixes).optional(),
    hosts: z.array(host).min(1).max(PURGE_LIMITS.hosts).optional(),
    tags: z.array(tag).min(1).max(PURGE_LIMITS.tags).optional(),
    purge_everything: z.literal(true).optional(),
    soft: z
      .boolean()
      .default(false)
      .describe(
        'Mark stale instead of removing: the next request revalidates; stale-while-revalidate / stale-if-error still apply.',
      ),
  })
  .strict()
  .refine(
    (r) =>
      [r.files, r.prefixes, r.hosts, r.tags, r.purge_everything].filter((v) => v !== undefined).length === 1,
    'give exactly one of files, prefixes, hosts, tags or purge_everything',
  );

export type PurgeRequest = z.infer<typeof PurgeRequestSchema>;
export type PurgeFile = z.infer<typeof PurgeFileSchema>;

/** A purge as the log carries it. */
export interface Purge extends PurgeRequest {
  id: string;
  zone_id: string;
  created_at: string;
}

/** `host/path` or a URL → `host/path` lower-cased host, no scheme, no default port. */
export function normalizePrefix(prefix: string): string {
  const withoutScheme = prefix.replace(/^https?:\/\//i, '');
  const slash = withoutScheme.indexOf('/');
  const authority = withoutScheme
    .slice(0, slash)
    .toLowerCase()
    .replace(/:(80|443)$/, '');
  return `${authority}${withoutScheme.slice(slash)}`;
}

/** The host (lower-case, without port) of a prefix, URL or file entry: which zone hostname it names. */
export function hostOfTarget(target: string): string {
  const withoutScheme = target.replace(/^https?:\/\//i, '');
  const end = withoutScheme.search(/[/?#]/);
  const authority = (end === -1 ? withoutScheme : withoutScheme.slice(0, end)).toLowerCase();
  return authority.replace(/:\d+$/, '');
}
