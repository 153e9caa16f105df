// Zones and cache rules: the customer configuration that the control plane stores and every edge
// node applies. These zod schemas are the single definition: the API validates requests with them
// (errors name the field), the OpenAPI document is generated from them, and the edge trusts values
// that passed them.
import { z } from 'zod';

const hostname = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i,
    'must be a DNS hostname',
  )
  .transform((h) => h.toLowerCase());

const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'must be an http:// or https:// URL');

const originPath = z.string().max(1024).regex(/^\//, 'must start with /');

/** Active health check of one origin: GET `path` every interval; 2xx or 3xx in time is a success. */
export const HealthCheckSchema = z.object({
  /** Sent under the origin URL's path, like request paths. */
  path: originPath,
  interval_sec: z.number().int().min(1).max(3600).default(5),
  timeout_ms: z.number().int().min(50).max(60_000).default(2000),
  /** Consecutive successes that bring a down origin back. */
  healthy_threshold: z.number().int().min(1).max(100).default(2),
  /** Consecutive failures that take an up origin out. */
  unhealthy_threshold: z.number().int().min(1).max(100).default(3),
});

/** Passive health: real requests' connection errors, timeouts and 5xx answers open the circuit. */
export const CircuitBreakerSchema = z.object({
  /** Consecutive failures that open the circuit (no request is sent while it is open). */
  failures: z.number().int().min(1).max(1000).default(5),
  /** Open this long, then one trial request decides: success closes, failure reopens. */
  cooldown_sec: z.number().int().min(1).max(3600).default(10),
});

/** PEM text of one or more certificates (a CA bundle). */
const pemCertificates = z
  .string()
  .max(256 * 1024)
  .regex(/-----BEGIN CERTIFICATE-----/, 'must be PEM certificates');

/** How the edge connects to an https:// origin. The certificate is always verified unless verify is false. */
export const OriginTlsSchema = z
  .object({
    /** CAs to verify the origin's certificate with, instead of the system's (PEM). */
    ca: pemCertificates.optional(),
    /** The name sent in SNI and checked against the certificate (default: the URL's host). */
    servername: hostname.optional(),
    /** false: accept any certificate (only for testing; logged when used). */
    verify: z.boolean().default(true),
  })
  .strict();

export const OriginSchema = z
  .object({
    url: httpUrl,
    tls: OriginTlsSchema.optional(),
    weight: z.number().int().min(0).max(1000).default(1),
    host_header: hostname.optional(),
    /** Shorthand for `health_check: { path }` with the defaults. */
    health_check_path: originPath.optional(),
    health_check: HealthCheckSchema.optional(),
    circuit_breaker: CircuitBreakerSchema.optional(),
  })
  .refine(
    (o) =>
      o.health_check_path === undefined ||
      o.health_check === undefined ||
      o.health_check.path === o.health_check_path,
    { message: 'differs from health_check.path (give one of them)', path: ['health_check_path'] },
  );

export const ZoneSettingsSchema = z.object({
  /** Lifetime when the origin sends no freshness information (seconds). */
  default_ttl: z.number().int().min(0).max(31_536_000).nullable().default(null),
  /** false: ignore the origin's Cache-Control/Expires and use default_ttl. */
  honor_origin_headers: z.boolean().default(true),
  /** Defaults applied when the origin gives none (seconds). */
  stale_while_revalidate: z.number().int().min(0).max(31_536_000).default(0),
  stale_if_error: z.number().int().min(0).max(31_536_000).default(0),
  max_object_size: z.number().int().min(1).max(1_099_511_627_776).nullable().default(null),
  /** Development mode: every request bypasses the cache. */
  development_mode: z.boolean().default(false),
  /** Strip Cache-Tag / Surrogate-Key before the client (default true). */
  strip_tag_headers: z.boolean().default(true),
  /** GeoDNS answers this zone's names only from these PoPs (names); absent or null: every edge PoP. */
  dns_pops: z.array(z.string().min(1).max(64)).min(1).max(100).nullable().optional(),
  /** Plain-HTTP requests are redirected to https:// with https_redirect_status. */
  always_use_https: z.boolean().default(false),
  https_redirect_status: z.union([z.literal(301), z.literal(308)]).default(301),
  /** Strict-Transport-Security on HTTPS responses (RFC 6797), when enabled. */
  hsts: z
    .object({
      enabled: z.boolean().default(false),
      max_age: z.number().int().min(0).max(63_072_000).default(31_536_000),
      include_subdomains: z.boolean().default(false),
      preload: z.boolean().default(false),
    })
    .strict()
    .default({ enabled: false, max_age: 31_536_000, include_subdomains: false, preload: false }),
  /** Present the zone's origin_client certificate to https:// origins (authenticated origin pulls). */
  authenticated_origin_pulls: z.boolean().default(false),
  /** The control plane issues and renews certificates for the zone's hostnames over ACME. */
  acme: z.boolean().default(false),
});

export const ZoneInputSchema = z.object({
  name: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[a-z0-9][a-z0-9._-]*$/i, 'letters, digits, ".", "_" and "-" only'),
  hostnames: z.array(hostname).min(1).max(100),
  origins: z.array(OriginSchema).min(1).max(32),
  shield_pop: z.string().min(1).max(64).nullable().default(null),
  settings: ZoneSettingsSchema.default(ZoneSettingsSchema.parse({})),
});

/** PATCH: every field optional; settings merge field by field. */
export const ZonePatchSchema = z.object({
  name: ZoneInputSchema.shape.name.optional(),
  hostnames: ZoneInputSchema.shape.hostnames.optional(),
  origins: ZoneInputSchema.shape.origins.optional(),
  shield_pop: z.string().min(1).max(64).nullable().optional(),
  // Built from the unwrapped fields: a field's default must not overwrite the stored value.
  settings: z
    .object(
      Object.fromEntries(
        Object.entries(ZoneSettingsSchema.shape).map(([k, v]) => [k, v.unwrap().optional()]),
      ),
    )
    .strict()
    .optional(),
});

export type ZoneInput = z.infer<typeof ZoneInputSchema>;
export type ZoneSettings = z.infer<typeof ZoneSettingsSchema>;
export type Origin = z.infer<typeof OriginSchema>;
export type OriginTls = z.infer<typeof OriginTlsSchema>;

export interface Zone extends ZoneInput {
  id: string;
  created_at: string;
  updated_at: string;
}

// ---- cache rules ---------------------------------------------------------------------------------

const name = z.string().min(1).max(256);

/** Every condition present must hold (AND). Globs: `*` any run of characters except '/', `**` anything. */
export const RuleMatchSchema = z.object({
  hosts: z.array(hostname).min(1).optional(),
  path: z.string().min(1).max(1024).optional(),
  extensions: z
    .array(z.string().regex(/^[a-z0-9]+$/i, 'an extension without the dot'))
    .min(1)
    .optional(),
  methods: z
    .array(z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']))
    .min(1)
    .optional(),
  /** Header present (value omitted) or equal to value (case-insensitive). */
  header: z.object({ name, value: z.string().max(1024).optional() }).optional(),
  cookie: z.object({ name, value: z.string().max(1024).optional() }).optional(),
  query: z.object({ name, value: z.string().max(1024).optional() }).optional(),
});

export const CacheKeySchema = z.object({
  /** all (default) | none | include (only these) | exclude (all but these). */
  query: z.enum(['all', 'none', 'include', 'exclude']).default('all'),
  query_params: z.array(name).max(100).default([]),
  /** Sort query parameters so that ?a=1&b=2 and ?b=2&a=1 share an object. */
  sort_query: z.boolean().default(false),
  /** Drop utm_*, gclid, fbclid and other tracking parameters. */
  strip_tracking: z.boolean().default(false),
  /** Request headers whose values become part of the key. */
  headers: z.array(name).max(20).default([]),
  /** Cookies whose values become part of the key. */
  cookies: z.array(name).max(20).default([]),
  /** Add the device class (mobile / tablet / desktop, from User-Agent) to the key. */
  device_class: z.boolean().default(false),
});

export const RuleActionSchema = z.object({
  /** Never cache: every matching request passes to the origin. */
  bypass: z.boolean().default(false),
  /** Lifetime at the edge (seconds), replacing the origin's. */
  edge_ttl: z.number().int().min(0).max(31_536_000).optional(),
  /** Cache-Control max-age sent to clients (seconds). */
  browser_ttl: z.number().int().min(0).max(31_536_000).optional(),
  /** Ignore the origin's Cache-Control/Expires for the edge lifetime (needs edge_ttl). */
  override_origin: z.boolean().default(false),
  cache_key: CacheKeySchema.optional(),
  /** Lifetimes for statuses, e.g. {"404": 60}: cache those answers for that long. */
  status_ttl: z
    .record(z.string().regex(/^[1-5]\d\d$/, 'an HTTP status code'), z.number().int().min(0).max(31_536_000))
    .optional(),
  /** Store responses even when they set cookies (the cookies are stripped). */
  ignore_set_cookie: z.boolean().default(false),
});

export const RuleInputSchema = z.object({
  description: z.string().max(500).default(''),
  enabled: z.boolean().default(true),
  match: RuleMatchSchema.default({}),
  action: RuleActionSchema,
});

export type RuleInput = z.infer<typeof RuleInputSchema>;
export type RuleMatch = z.infer<typeof RuleMatchSchema>;
export type RuleAction = z.infer<typeof RuleActionSchema>;
export type CacheKeySettings = z.infer<typeof CacheKeySchema>;

export interface Rule extends RuleInput {
  id: string;
  zone_id: string;
  /** Order within the zone: rules are evaluated by ascending position. */
  position: number;
  created_at: string;
  updated_at: string;
}
