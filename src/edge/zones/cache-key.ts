// A rule's cache_key settings, compiled: how the query enters the primary key, and what else (headers,
// cookies, device class) enters the key as `keyExtra`. Query members are compared by their decoded
// names but kept in the key as received, so the key never re-encodes what the client sent.
import type { CacheKeySettings } from '../../common/config/zone.ts';
import { deviceClassOf } from './device-class.ts';
import type { QueryParam, RequestView } from './request-view.ts';

/** Tracking parameters dropped by strip_tracking (names compared lower-case), besides every `utm_*`. */
export const TRACKING_PARAMS: ReadonlySet<string> = new Set([
  'gclid',
  'fbclid',
  'msclkid',
  'dclid',
  'yclid',
  '_ga',
  'mc_cid',
  'mc_eid',
  'igshid',
]);

export function isTrackingParam(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.startsWith('utm_') || TRACKING_PARAMS.has(lower);
}

/** Code-unit order by decoded name, then decoded value; Array#sort is stable for full ties. */
function byNameThenValue(a: QueryParam, b: QueryParam): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  if (a.value !== b.value) return a.value < b.value ? -1 : 1;
  return 0;
}

/** One part of keyExtra: a fixed label and how to read its value from the request. */
interface ExtraPart {
  readonly label: string;
  readonly read: (view: RequestView) => string | undefined;
}

export class CompiledCacheKey {
  readonly #mode: CacheKeySettings['query'];
  readonly #params: ReadonlySet<string>;
  readonly #sort: boolean;
  readonly #stripTracking: boolean;
  /** null when the key has nothing but the URL (the common case). */
  readonly #extra: readonly ExtraPart[] | null;

  constructor(settings: CacheKeySettings) {
    this.#mode = settings.query;
    this.#params = new Set(settings.query_params);
    this.#sort = settings.sort_query;
    this.#stripTracking = settings.strip_tracking;
    const extra: ExtraPart[] = [];
    for (const name of settings.headers) {
      const lower = name.toLowerCase();
      extra.push({ label: `h.${encodeURIComponent(lower)}`, read: (v) => joinedHeader(v, lower) });
    }
    for (const name of settings.cookies) {
      extra.push({ label: `c.${encodeURIComponent(name)}`, read: (v) => v.cookies.get(name) });
    }
    if (settings.device_class) {
      extra.push({ label: 'd', read: (v) => deviceClassOf(v.req.headers['user-agent']) });
    }
    this.#extra = extra.length === 0 ? null : extra;
  }

  /** The query part of the primary key: '' or '?' + the kept members. */
  searchOf(view: RequestView): string {
    const search = view.search;
    if (search === '' || this.#mode === 'none') return '';
    if (this.#mode === 'all' && !this.#sort && !this.#stripTracking) return search;
    const kept = view.params.filter((p) => this.#keeps(p.name));
    if (kept.length === 0) return '';
    if (this.#sort) kept.sort(byNameThenValue);
    let out = '?';
    for (let i = 0; i < kept.length; i++) out += (i === 0 ? '' : '&') + (kept[i] as QueryParam).raw;
    return out;
  }

  /**
   * `label=value` parts joined by ';', in the order of the settings. Values are percent-encoded, so
   * ';', '=' and '\n' cannot occur in them and two different requests never produce the same text;
   * an absent header or cookie is the bare label, distinct from an empty value (`label=`).
   */
  extraOf(view: RequestView): string {
    const extra = this.#extra;
    if (extra === null) return '';
    let out = '';
    for (let i = 0; i < extra.length; i++) {
      const part = extra[i] as ExtraPart;
      const value = part.read(view);
      out += `${i === 0 ? '' : ';'}${part.label}${value === undefined ? '' : `=${encodeURIComponent(value)}`}`;
    }
    return out;
  }

  #keeps(name: string): boolean {
    if (this.#stripTracking && isTrackingParam(name)) return false;
    switch (this.#mode) {
      case 'include':
        return this.#params.has(name);
      case 'exclude':
        return !this.#params.has(name);
      default:
        return true;
    }
  }
}

/** The field value, several lines joined by ', ' (RFC 9110 §5.3); undefined when absent. */
function joinedHeader(view: RequestView, name: string): string | undefined {
  const v = view.req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}
