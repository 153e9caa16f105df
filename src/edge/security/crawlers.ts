// Verified crawlers: a request whose User-Agent names a search engine's crawler is believed only when
// its address's reverse DNS name is under the engine's domain and that name resolves forward to the
// same address (the check Google and Bing document). Lookups run in the background and are cached;
// until one finishes the crawler is treated as any client, so the request path never waits on DNS.
import { promises as dns } from 'node:dns';

const CRAWLERS: readonly { ua: RegExp; domains: readonly string[] }[] = [
  {
    ua: /googlebot|google-inspectiontool|adsbot-google|googleother/i,
    domains: ['.googlebot.com', '.google.com', '.googleusercontent.com'],
  },
  { ua: /bingbot|msnbot|adidxbot|bingpreview/i, domains: ['.search.msn.com'] },
  { ua: /applebot/i, domains: ['.applebot.apple.com'] },
  { ua: /duckduckbot/i, domains: ['.duckduckgo.com'] },
  { ua: /yandex(?:bot|images)/i, domains: ['.yandex.ru', '.yandex.net', '.yandex.com'] },
];

export interface Resolver {
  reverse(ip: string): Promise<string[]>;
  lookup(host: string): Promise<string[]>;
}

const systemResolver: Resolver = {
  reverse: (ip) => dns.reverse(ip),
  lookup: async (host) => (await dns.lookup(host, { all: true })).map((a) => a.address),
};

const TTL_MS = 60 * 60_000;
const MAX_ENTRIES = 10_000;

export class CrawlerVerifier {
  readonly #resolver: Resolver;
  readonly #cache = new Map<string, { ok: boolean; untilMs: number } | 'pending'>();

  constructor(resolver: Resolver = systemResolver) {
    this.#resolver = resolver;
  }

  /** true only when a finished check verified `ip` for the crawler `userAgent` names; starts one if none. */
  isVerified(ip: string, userAgent: string, nowMs: number): boolean {
    const crawler = CRAWLERS.find((c) => c.ua.test(userAgent));
    if (crawler === undefined) return false;
    const key = `${ip}\n${crawler.domains[0]}`;
    const entry = this.#cache.get(key);
    if (entry === 'pending') return false;
    if (entry !== undefined && entry.untilMs > nowMs) return entry.ok;
    if (this.#cache.size >= MAX_ENTRIES) this.#cache.clear();
    this.#cache.set(key, 'pending');
    void this.verify(ip, crawler.domains).then((ok) =>
      this.#cache.set(key, { ok, untilMs: Date.now() + TTL_MS }),
    );
    return false;
  }

  /** Reverse then forward DNS; never throws. */
  async verify(ip: string, domains: readonly string[]): Promise<boolean> {
    try {
      const names = await this.#resolver.reverse(ip);
      for (const name of names) {
        const lower = name.toLowerCase().replace(/\.$/, '');
        if (!domains.some((d) => lower.endsWith(d))) continue;
        if ((await this.#resolver.lookup(lower)).includes(ip)) return true;
      }
    } catch {
      // NXDOMAIN, timeout: not verified.
    }
    return false;
  }
}
