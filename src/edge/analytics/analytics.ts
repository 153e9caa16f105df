// One node's analytics: what the `log` step calls per request. It reads the facts off the request
// once and hands them to the per-zone counters (shipped to the control plane), the sampled access
// log and, while someone tails the zone (`meridian tail`), the live tail buffer. Every part is
// optional; a node with none of them has runtime.analytics === null and log pays nothing.
import type { Logger } from '../../common/log.ts';
import type { ControlClient } from '../sync/control-client.ts';
import type { RequestContext } from '../pipeline/context.ts';
import type { CacheStatusName } from '../../common/analytics/tally.ts';
import type { AccessLog, AccessRecord } from './access-log.ts';
import type { AnalyticsCollector, RequestFacts } from './collector.ts';

/** Live records kept per tail interval (a tailed zone at high rate is sampled down to this). */
const MAX_TAIL_RECORDS = 500;

export interface EdgeAnalyticsOptions {
  node: string;
  pop: string | null;
  collector: AnalyticsCollector | null;
  accessLog: AccessLog | null;
  /** Maps a client address to a country (GeoIP); null: none configured. */
  countryOf?: ((ip: string) => string | null) | null;
}

export class EdgeAnalytics {
  readonly #options: EdgeAnalyticsOptions;
  readonly collector: AnalyticsCollector | null;
  readonly accessLog: AccessLog | null;
  /** Zone ids someone tails now (from the control plane's receipts); empty: no tail work per request. */
  #tailed: ReadonlySet<string> = new Set();
  #tailRecords: AccessRecord[] = [];
  #tailDropped = 0;
  readonly #contentTypes = new Map<string, string>();

  constructor(options: EdgeAnalyticsOptions) {
    this.#options = options;
    this.collector = options.collector;
    this.accessLog = options.accessLog;
  }

  setTailed(zoneIds: readonly string[]): void {
    this.#tailed = new Set(zoneIds);
    if (zoneIds.length === 0) this.#tailRecords = [];
  }

  get tailed(): ReadonlySet<string> {
    return this.#tailed;
  }

  /** The live records since the last call. */
  takeTail(): { records: AccessRecord[]; dropped: number } {
    const out = { records: this.#tailRecords, dropped: this.#tailDropped };
    this.#tailRecords = [];
    this.#tailDropped = 0;
    return out;
  }

  record(ctx: RequestContext): void {
    const zone = ctx.zone;
    if (zone === null) return;
    const now = performance.now();
    // One clock read: wall time from the monotonic one (no second syscall per request).
    const nowMs = Math.floor(performance.timeOrigin + now);
    const req = ctx.req;
    const ip = req.socket?.remoteAddress ?? '';
    const facts: RequestFacts = {
      zoneId: zone.zone.id,
      phase: servedBy(ctx),
      status: ctx.res.statusCode,
      bytes: ctx.bytesSent,
      method: req.method ?? 'GET',
      protocol: ctx.h2 ? 'HTTP/2' : req.httpVersionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1',
      contentType: this.#contentTypeOf(ctx),
      country: this.#options.countryOf?.(ip) ?? null,
      secure: ctx.secure,
      ttfbMs: (ctx.headHrMs === 0 ? now : ctx.headHrMs) - ctx.startHrMs,
      originMs: ctx.upstreamHrMs === 0 ? -1 : ctx.upstreamHrMs - ctx.startHrMs,
      path: pathOnly(ctx.path),
      ip,
      userAgent: headerOf(req.headers['user-agent']),
      referrer: headerOf(req.headers.referer),
    };
    this.collector?.record(facts, nowMs);
    const accessLog = this.accessLog;
    const rate = zone.zone.settings.access_log_sample_rate ?? 1;
    const toLog = accessLog !== null && rate > 0 && (rate >= 1 || Math.random() < rate);
    const toTail = this.#tailed.size > 0 && this.#tailed.has(facts.zoneId);
    if (!toLog && !toTail) return;
    const record = recordOf(ctx, facts, this.#options, nowMs, now);
    if (toLog) accessLog.write(record);
    if (toTail) {
      if (this.#tailRecords.length < MAX_TAIL_RECORDS) this.#tailRecords.push(record);
      else this.#tailDropped++;
    }
  }

  /** The media type without parameters, lower case; memoised per raw value (few distinct ones). */
  #contentTypeOf(ctx: RequestContext): string {
    const raw = rawContentType(ctx);
    if (raw === undefined) return 'none';
    let type = this.#contentTypes.get(raw);
    if (type === undefined) {
      type = (raw.split(';')[0] as string).trim().toLowerCase().slice(0, 100) || 'none';
      if (this.#contentTypes.size < 1_000) this.#contentTypes.set(raw, type);
    }
    return type;
  }
}

/**
 * The phase, except for a miss or pass answered by an upstream Meridian cache (the PoP's owner node
 * or the shield): its Cache-Status entry, the last one before this node's, says hit. Only misses
 * read the header; a hit returns at once.
 */
function servedBy(ctx: RequestContext): CacheStatusName {
  const phase = ctx.phase;
  if ((phase !== 'miss' && phase !== 'pass') || ctx.fwd === null) return phase;
  const d = ctx.delivery;
  if (d === null || d.kind === 'object') return phase;
  const raw = (d.kind === 'fill' || d.kind === 'sliced' ? d.meta.headers : d.response.headers)[
    'cache-status'
  ];
  if (raw === undefined) return phase;
  const value = Array.isArray(raw) ? raw.join(', ') : raw;
  const entry = value.slice(value.lastIndexOf(',') + 1);
  return /;\s*hit\s*(?:;|$)/.test(entry) ? 'upstream-hit' : phase;
}

function rawContentType(ctx: RequestContext): string | undefined {
  if (ctx.phase === 'synth') return 'text/plain';
  const d = ctx.delivery;
  if (d === null) return undefined;
  const headers =
    d.kind === 'object'
      ? d.object.meta.headers
      : d.kind === 'fill' || d.kind === 'sliced'
        ? d.meta.headers
        : d.response.headers;
  const value = headers['content-type'];
  return Array.isArray(value) ? value[0] : value;
}

function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

function headerOf(value: string | string[] | undefined): string {
  return value === undefined ? '' : Array.isArray(value) ? (value[0] ?? '') : value;
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** The time of the last record, formatted once per millisecond. */
let isoMs = 0;
let isoTime = '';

function isoOf(ms: number): string {
  if (ms !== isoMs) {
    isoMs = ms;
    isoTime = new Date(ms).toISOString();
  }
  return isoTime;
}

function recordOf(
  ctx: RequestContext,
  facts: RequestFacts,
  options: EdgeAnalyticsOptions,
  nowMs: number,
  nowHr: number,
): AccessRecord {
  return {
    time: isoOf(nowMs),
    node: options.node,
    pop: options.pop,
    zone: ctx.zone?.zone.name ?? '',
    zone_id: facts.zoneId,
    client_ip: facts.ip,
    country: facts.country,
    method: facts.method,
    scheme: ctx.scheme,
    host: ctx.host,
    path: ctx.path,
    protocol: facts.protocol,
    status: facts.status,
    bytes: facts.bytes,
    cache: facts.phase,
    content_type: facts.contentType,
    ttfb_ms: round3(facts.ttfbMs),
    origin_ms: facts.originMs < 0 ? null : round3(facts.originMs),
    duration_ms: round3(nowHr - ctx.startHrMs),
    user_agent: facts.userAgent,
    referrer: facts.referrer,
  };
}

/** Sends the tail buffer every intervalMs while some zone is tailed; the answer renews the list. */
export class TailShipper {
  readonly #analytics: EdgeAnalytics;
  readonly #client: ControlClient;
  readonly #node: string;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | null = null;
  #busy = false;

  constructor(analytics: EdgeAnalytics, client: ControlClient, node: string, log: Logger) {
    this.#analytics = analytics;
    this.#client = client;
    this.#node = node;
    this.#log = log;
  }

  start(intervalMs = 500): void {
    this.#timer = setInterval(() => void this.#tick(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
  }

  async #tick(): Promise<void> {
    if (this.#busy || this.#analytics.tailed.size === 0) return;
    this.#busy = true;
    try {
      const { records } = this.#analytics.takeTail();
      this.#analytics.setTailed(await this.#client.tailRecords(this.#node, records));
    } catch (err) {
      // Live records are best effort: the next receipt says again who tails.
      this.#log.debug('tail records not delivered', { err });
    } finally {
      this.#busy = false;
    }
  }
}
