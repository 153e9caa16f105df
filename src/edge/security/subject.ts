// The request as the rules language sees it (lib/rules RuleSubject), read from the context lazily:
// a field no rule names is never computed.
import type { RuleSubject } from '../../lib/rules/compile.ts';
import type { RequestContext } from '../pipeline/context.ts';
import { hostWithoutPort } from '../pipeline/https-zone.ts';

export class ContextSubject implements RuleSubject {
  readonly #ctx: RequestContext;
  #query: string | null = null;
  #path: string | null = null;
  #country: string | null = null;

  constructor(ctx: RequestContext) {
    this.#ctx = ctx;
  }
  get method(): string {
    return this.#ctx.req.method ?? 'GET';
  }
  get host(): string {
    return hostWithoutPort(this.#ctx.host);
  }
  get uri(): string {
    return this.#ctx.path;
  }
  get path(): string {
    if (this.#path === null) this.#split();
    return this.#path as string;
  }
  get query(): string {
    if (this.#query === null) this.#split();
    return this.#query as string;
  }
  header(name: string): string {
    const value = this.#ctx.req.headers[name];
    if (value === undefined) return '';
    return Array.isArray(value) ? value.join(', ') : value;
  }
  get cookie(): string {
    return this.header('cookie');
  }
  get userAgent(): string {
    return this.header('user-agent');
  }
  get referer(): string {
    return this.header('referer');
  }
  get ip(): string {
    return clientIp(this.#ctx);
  }
  get country(): string {
    if (this.#country === null) this.#country = this.#ctx.edge.security?.country?.(clientIp(this.#ctx)) ?? '';
    return this.#country;
  }
  get ssl(): boolean {
    return this.#ctx.scheme === 'https';
  }
  get version(): string {
    const req = this.#ctx.req;
    return req.httpVersionMajor === 2 ? 'HTTP/2' : `HTTP/${req.httpVersion}`;
  }
  #split(): void {
    const target = this.#ctx.path;
    const q = target.indexOf('?');
    this.#path = q < 0 ? target : target.slice(0, q);
    this.#query = q < 0 ? '' : target.slice(q + 1);
  }
}

/** The client's address: the socket's peer (IPv4-mapped IPv6 as IPv4). */
export function clientIp(ctx: RequestContext): string {
  const ip = ctx.req.socket.remoteAddress ?? '';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
