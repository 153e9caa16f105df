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
export const HealthCheckSchema = z
  .object({
    path: originPath.describe("Sent under the origin URL's path, like request paths."),
    interval_sec: z.number().int().min(1).max(3600).default(5),
    timeout_ms: z.number().int().min(50).max(60_000).default(2000),
    healthy_threshold: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(2)
      .describe('Consecutive successes that bring a down origin back.'),
    unhealthy_threshold: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(3)
      .describe('Consecutive failures that take an up origin out.'),
  })
  .strict();

/** Passive health: real requests' connection errors, timeouts and 5xx answers open the circuit. */
export const CircuitBreakerSchema = z
  .object({
    failures: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(5)
      .describe('Consecutive failures that open the circuit (no request is sent while it is open).'),
    cooldown_sec: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(10)
      .describe('Open this long, then one trial request decides: success closes, failure reopens.'),
  })
  .strict();

/** PEM text of one or more certificates (a CA bundle). */
const pemCertificates = z
  .string()
  .max(256 * 1024)
  .regex(/-----BEGIN CERTIFICATE-----/, 'must be PEM certificates');

/** How the edge connects to an https:// origin. The certificate is always verified unless verify is false. */
export const OriginTlsSchema = z
  .object({
    ca: pemCertificates
      .optional()
      .describe("CAs to verify the origin's certificate with, instead of the system's (PEM)."),
    servername: hostname
      .optional()
      .describe("The name sent in SNI and checked against the certificate (default: the URL's host)."),
    verify: z
      .boolean()
      .default(true)
      .describe('false: accept any certificate (only for testing; logged when used).'),
  })
  .strict();

export const OriginSchema = z
  .object({
    url: httpUrl,
    tls: OriginTlsSchema.optional(),
    weight: z.number().int().min(0).max(1000).default(1),
    host_header: hostname.optional(),
    health_check_path: originPath
      .optional()
      .describe('Shorthand for `health_check: { path }` with the defaults.'),
    health_check: HealthCheckSchema.optional(),
    circuit_breaker: CircuitBreakerSchema.optional(),
  })
  .strict()
  .refine(
    (o) =>
      o.health_check_path === undefined ||
      o.health_check === undefined ||
      o.health_check.path === o.health_check_path,
    { message: 'differs from health_check.path (give one of them)', path: ['health_check_path'] },
  )
  .meta({ id: 'Origin' });

/** A slice of a large object (docs/media.md): 4 KiB to 64 MiB. */
const SliceSizeSchema = z
  .number()
  .int()
  .min(4096)
  .max(64 * 1024 * 1024);

export const ZoneSettingsSchema = z
  .object({
    default_ttl: z
      .number()
      .int()
      .min(0)
      .max(31_536_000)
      .nullable()
      .default(null)
      .describe('Lifetime when the origin sends no freshness information (seconds).'),
    honor_origin_headers: z
      .boolean()
      .default(true)
      .describe("false: ignore the origin's Cache-Control/Expires and use default_ttl."),
    stale_while_revalidate: z
      .number()
      .int()
      .min(0)
      .max(31_536_000)
      .default(0)
      .describe('Defaults applied when the origin gives none (seconds).'),
    stale_if_error: z.number().int().min(0).max(31_536_000).default(0),
    max_object_size: z.number().int().min(1).max(1_099_511_627_776).nullable().default(null),
    development_mode: z
      .boolean()
      .default(false)
      .describe('Development mode: every request bypasses the cache.'),
    strip_tag_headers: z
      .boolean()
      .default(true)
      .describe('Strip Cache-Tag / Surrogate-Key before the client (default true).'),
    dns_pops: z
      .array(z.string().min(1).max(64))
      .min(1)
      .max(100)
      .nullable()
      .optional()
      .describe(
        "GeoDNS answers this zone's names only from these PoPs (names); absent or null: every edge PoP.",
      ),
    always_use_https: z
      .boolean()
      .default(false)
      .describe('Plain-HTTP requests are redirected to https:// with https_redirect_status.'),
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
    authenticated_origin_pulls: z
      .boolean()
      .default(false)
      .describe(
        "Present the zone's origin_client certificate to https:// origins (authenticated origin pulls).",
      ),
    acme: z
      .boolean()
      .default(false)
      .describe("The control plane issues and renews certificates for the zone's hostnames over ACME."),
    strip_cdn_cache_control: z
      .boolean()
      .default(false)
      .describe(
        'Strip CDN-Cache-Control before the client (default false: obeyed, then forwarded downstream, as other CDNs do).',
      ),
    slice_size: SliceSizeSchema.nullable()
      .default(null)
      .describe(
        'Slice caching (docs/media.md): objects are fetched from the origin by range requests and stored as slices of this many bytes; null: off.',
      ),
    compression: z
      .object({
        enabled: z.boolean().default(true),
        types: z
          .array(
            z
              .string()
              .min(1)
              .max(128)
              .regex(
                /^(?:[a-z0-9][a-z0-9!#$&^_.+-]*\/(?:\*|[a-z0-9][a-z0-9!#$&^_.+-]*)|\*\+[a-z0-9.-]+)$/i,
                'a media type (text/css), a type with * (text/*) or a suffix (*+json)',
              ),
          )
          .min(1)
          .max(100)
          .optional()
          .describe(
            'Media types compressed; absent: text, JSON, JavaScript, CSS, SVG, XML, HLS/DASH manifests...',
          ),
        min_size: z.number().int().min(0).max(1_073_741_824).default(1024),
      })
      .strict()
      .optional()
      .describe(
        'On-the-fly gzip, brotli and zstd for identity answers of compressible types (docs/media.md); absent: on with the defaults.',
      ),
    images: z
      .object({
        enabled: z.boolean().default(true),
        max_input_pixels: z.number().int().min(1).max(1_000_000_000).default(40_000_000),
        max_input_bytes: z.number().int().min(1).max(1_073_741_824).default(33_554_432),
        max_output_bytes: z.number().int().min(1).max(1_073_741_824).default(16_777_216),
      })
      .strict()
      .optional()
      .describe(
        'Image resizing at /cdn-cgi/image/<options>/<path> (docs/media.md) and its limits against decompression bombs; absent: on with the defaults.',
      ),
    streaming: z
      .object({
        enabled: z.boolean().default(true),
        manifest_ttl_fraction: z
          .number()
          .min(0.05)
          .max(1)
          .default(0.5)
          .describe('A live playlist lives this fraction of its target segment duration (at least 1 s).'),
        segment_ttl: z.number().int().min(1).max(31_536_000).default(86_400),
        prefetch_segments: z
          .number()
          .int()
          .min(0)
          .max(10)
          .default(0)
          .describe('Segments a fetched playlist names that are fetched ahead of the players (0: off).'),
      })
      .strict()
      .optional()
      .describe(
        'HLS and DASH lifetimes where the origin states none, and segment prefetch (docs/media.md); absent: on with the defaults.',
      ),
    workers_private_subrequests: z
      .boolean()
      .default(false)
      .describe(
        "The zone's edge workers may fetch() loopback, private and link-local addresses (default false).",
      ),
    access_log_sample_rate: z
      .number()
      .min(0)
      .max(1)
      .default(1)
      .describe("Share of the zone's requests written to the nodes' access logs (0 to 1; default 1: all)."),
  })
  .strict()
  .meta({ id: 'ZoneSettings' });

export const ZoneInputSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[a-z0-9][a-z0-9._-]*$/i, 'letters, digits, ".", "_" and "-" only'),
    hostnames: z.array(hostname).min(1).max(100),
    origins: z.array(OriginSchema).min(1).max(32),
    shield_pop: z.string().min(1).max(64).nullable().default(null),
    settings: ZoneSettingsSchema.default(ZoneSettingsSchema.parse({})),
  })
  .strict()
  .meta({ id: 'ZoneInput' });

/** PATCH: every field optional; settings merge field by field. */
export const ZonePatchSchema = z
  .object({
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
  })
  .strict();

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
export const RuleMatchSchema = z
  .object({
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
    header: z
      .object({ name, value: z.string().max(1024).optional() })
      .strict()
      .optional(),
    cookie: z
      .object({ name, value: z.string().max(1024).optional() })
      .strict()
      .optional(),
    query: z
      .object({ name, value: z.string().max(1024).optional() })
      .strict()
      .optional(),
  })
  .strict()
  .meta({ id: 'RuleMatch' });

export const CacheKeySchema = z
  .object({
    query: z
      .enum(['all', 'none', 'include', 'exclude'])
      .default('all')
      .describe('all (default) | none | include (only these) | exclude (all but these).'),
    query_params: z.array(name).max(100).default([]),
    sort_query: z
      .boolean()
      .default(false)
      .describe('Sort query parameters so that ?a=1&b=2 and ?b=2&a=1 share an object.'),
    strip_tracking: z
      .boolean()
      .default(false)
      .describe('Drop utm_*, gclid, fbclid and other tracking parameters.'),
    headers: z
      .array(name)
      .max(20)
      .default([])
      .describe('Request headers whose values become part of the key.'),
    cookies: z.array(name).max(20).default([]).describe('Cookies whose values become part of the key.'),
    device_class: z
      .boolean()
      .default(false)
      .describe('Add the device class (mobile / tablet / desktop, from User-Agent) to the key.'),
  })
  .strict()
  .meta({ id: 'CacheKey' });

export const RuleActionSchema = z
  .object({
    bypass: z.boolean().default(false).describe('Never cache: every matching request passes to the origin.'),
    /** Lifetime at the edge (seconds): a fallback when the origin gives none, unless override_origin. */
    edge_ttl: z
      .number()
      .int()
      .min(0)
      .max(31_536_000)
      .optional()
      .describe(
        "Lifetime at the edge (seconds). A fallback used only when the origin sends no freshness (Cache-Control max-age/s-maxage, Expires), unless override_origin is true: then it replaces the origin's.",
      ),
    browser_ttl: z
      .number()
      .int()
      .min(0)
      .max(31_536_000)
      .optional()
      .describe('Cache-Control max-age sent to clients (seconds).'),
    /** Ignore the origin's Cache-Control/Expires for the edge lifetime (needs edge_ttl). */
    override_origin: z
      .boolean()
      .default(false)
      .describe("true: edge_ttl replaces the origin's Cache-Control/Expires instead of being a fallback."),
    cache_key: CacheKeySchema.optional(),
    /** Lifetimes for statuses, e.g. {"404": 60}: cache those answers for that long. */
    status_ttl: z
      .record(z.string().regex(/^[1-5]\d\d$/, 'an HTTP status code'), z.number().int().min(0).max(31_536_000))
      .optional(),
    ignore_set_cookie: z
      .boolean()
      .default(false)
      .describe('Store responses even when they set cookies (the cookies are stripped).'),
    slice_size: SliceSizeSchema.nullable()
      .optional()
      .describe(
        "Slice caching for matching requests (bytes per slice); null: off; absent: the zone's setting.",
      ),
  })
  .strict()
  .meta({ id: 'RuleAction' });

export const RuleInputSchema = z
  .object({
    description: z.string().max(500).default(''),
    enabled: z.boolean().default(true),
    match: RuleMatchSchema.default({}),
    action: RuleActionSchema,
  })
  .strict();

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
