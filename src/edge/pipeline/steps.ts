// Every legal transition of a client request; nothing else moves a request (cf. Varnish's
// REQ_STEPS). docs/pipeline.md is generated from this table and a test fails when they drift.
export const NEXT = {
  /**
   * Zone by Host, strict request checks; an unknown host or a bad target → synth. A known ACME
   * HTTP-01 challenge is answered here, for any Host (edge/acme/answer.ts) → log.
   */
  route: ['filter', 'synth', 'log'],
  /**
   * Custom firewall rules, rate limits, managed rules, challenges (edge/security); a block, a limit or
   * a challenge page is answered here → log.
   */
  filter: ['compute', 'synth', 'log'],
  /** The zone's edge worker may answer itself (none in standalone mode). */
  compute: ['lookup', 'deliver', 'synth'],
  /** Cache key, memory then disk, fresh / stale / miss; uncacheable requests → pass. */
  lookup: ['hit', 'miss', 'pass', 'synth', 'slice', 'image'],
  /** A stored object serves; stale-while-revalidate starts one background refresh. */
  hit: ['deliver', 'miss'],
  /** The writer starts a fetch task; readers wait on it (collapsing). */
  miss: ['deliver', 'pass', 'synth'],
  /** A private fetch: nothing stored; unsafe methods invalidate the URL on success. */
  pass: ['deliver', 'synth'],
  /**
   * A zone with slice_size: the object is read as slices (stored, or fetched by range); an upstream
   * that ignores Range or answers no range → miss (cached whole).
   */
  slice: ['deliver', 'miss', 'synth'],
  /** /cdn-cgi/image/<options>/<path>: a stored variant, else the source through the cache, resized. */
  image: ['deliver', 'synth'],
  /** Cache-Status, Age, Via, 304 / 206, body. */
  deliver: ['log'],
  /** Every error page comes from here. */
  synth: ['log'],
  /** Metrics; the request ends. */
  log: [],
} as const satisfies Record<string, readonly string[]>;

export type Step = keyof typeof NEXT;
export type Next<S extends Step> = (typeof NEXT)[S][number];
