// What rule conditions and key rules read from a request, each part parsed at most once and only
// when some compiled rule asks for it: a zone whose rules look only at the path never splits cookies.
import type { RuleRequest } from './types.ts';

/** One `name=value` member of a query: the raw text (kept in keys as received) and its decoded parts. */
export interface QueryParam {
  readonly raw: string;
  readonly name: string;
  readonly value: string;
}

/** The request as the rules see it. Created once per `decide` call that has rules to run. */
export class RequestView {
  readonly req: RuleRequest;
  /** The target up to '?' (raw, not percent-decoded). */
  readonly path: string;
  /** '' without a query, else '?' and the raw query. */
  readonly search: string;
  #hostname: string | undefined;
  #extension: string | null | undefined;
  #cookies: ReadonlyMap<string, string> | undefined;
  #params: readonly QueryParam[] | undefined;

  constructor(req: RuleRequest) {
    this.req = req;
    const q = req.target.indexOf('?');
    this.path = q === -1 ? req.target : req.target.slice(0, q);
    this.search = q === -1 ? '' : req.target.slice(q);
  }

  /** The host without a port, lower-case (`[::1]:8080` → `[::1]`). */
  get hostname(): string {
    return (this.#hostname ??= hostnameOf(this.req.host));
  }

  /** The lower-case extension of the last path segment, null when it has none. */
  get extension(): string | null {
    if (this.#extension === undefined) this.#extension = extensionOf(this.path);
    return this.#extension;
  }

  /** Cookies by name (RFC 6265 §5.4 order: the first of several with one name wins). */
  get cookies(): ReadonlyMap<string, string> {
    return (this.#cookies ??= parseCookies(this.req.headers['cookie']));
  }

  /** Query members in order, percent-decoded ('+' as space, as in forms). */
  get params(): readonly QueryParam[] {
    return (this.#params ??= parseQuery(this.search));
  }
}

/** Lower-case host without the port; IPv6 literals keep their brackets. */
export function hostnameOf(host: string): string {
  const end = host.startsWith('[') ? host.indexOf(']') + 1 : host.indexOf(':');
  return (end <= 0 ? host : host.slice(0, end)).toLowerCase();
}

/** Like path.extname without the dot: `/a.tar.gz` → gz, `/.env` and `/dir/` → null. */
export function extensionOf(path: string): string | null {
  const slash = path.lastIndexOf('/');
  const dot = path.lastIndexOf('.');
  if (dot <= slash + 1 || dot === path.length - 1) return null;
  return path.slice(dot + 1).toLowerCase();
}

/**
 * RFC 6265 §5.4 `cookie-pair *( ";" SP cookie-pair )`, read leniently: members split at ';', trimmed,
 * split at the first '='; members without '=' are skipped; values are kept as sent (quotes included).
 * Several Cookie lines (HTTP/2 may send them split) are read in order.
 */
export function parseCookies(header: string | readonly string[] | undefined): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  if (header === undefined) return out;
  const text = typeof header === 'string' ? header : header.join(';');
  for (const member of text.split(';')) {
    const eq = member.indexOf('=');
    if (eq === -1) continue;
    const name = member.slice(0, eq).trim();
    if (name !== '' && !out.has(name)) out.set(name, member.slice(eq + 1).trim());
  }
  return out;
}

/** Splits '?a=1&b' into members; empty members ('a=1&&b') are dropped. */
export function parseQuery(search: string): QueryParam[] {
  const out: QueryParam[] = [];
  if (search.length <= 1) return out;
  for (const raw of search.slice(1).split('&')) {
    if (raw === '') continue;
    const eq = raw.indexOf('=');
    const name = decodeFormComponent(eq === -1 ? raw : raw.slice(0, eq));
    const value = eq === -1 ? '' : decodeFormComponent(raw.slice(eq + 1));
    out.push({ raw, name, value });
  }
  return out;
}

/** application/x-www-form-urlencoded decoding; a malformed %-sequence leaves the text undecoded. */
export function decodeFormComponent(s: string): string {
  if (s.indexOf('%') === -1 && s.indexOf('+') === -1) return s;
  const spaced = s.replaceAll('+', ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}
