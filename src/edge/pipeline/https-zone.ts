// A zone's HTTPS settings as the steps apply them: always_use_https sends plain-HTTP clients to the
// https:// URL (route, before the cache), and HSTS adds Strict-Transport-Security to what HTTPS
// clients get (deliver, synth), hits included.
import type { ZoneSettings } from '../../common/config/zone.ts';
import type { RequestContext } from './context.ts';

/** One header value per zone settings object (a zone change builds new settings). */
const hstsValues = new WeakMap<ZoneSettings['hsts'], string | null>();

/** RFC 6797 §6.1: `max-age=N[; includeSubDomains][; preload]`; null when the zone has HSTS off. */
export function hstsValueOf(hsts: ZoneSettings['hsts']): string | null {
  let value = hstsValues.get(hsts);
  if (value === undefined) {
    value = hsts.enabled
      ? `max-age=${hsts.max_age}${hsts.include_subdomains ? '; includeSubDomains' : ''}${hsts.preload ? '; preload' : ''}`
      : null;
    hstsValues.set(hsts, value);
  }
  return value;
}

/**
 * The Strict-Transport-Security value for this response, or null. RFC 6797 §7.2: a server must not
 * send it over plain HTTP (a network attacker could use it to deny service to the site), so only a
 * client's TLS connection gets it; an internal hop gets the stored head as it is.
 */
export function hstsFor(ctx: RequestContext): string | null {
  if (!ctx.secure || ctx.hop !== null || ctx.zone === null) return null;
  return hstsValueOf(ctx.zone.zone.settings.hsts);
}

/**
 * always_use_https: a plain-HTTP client request is answered with a redirect to the https:// URL
 * (`https_redirect_status`: 301, or 308 which keeps the method and body). The port is dropped: the
 * HTTPS side of a site is on 443. Internal hops between nodes travel plain HTTP on purpose and are
 * never redirected. True when the request is to be redirected (ctx.redirect is set).
 */
export function redirectsToHttps(ctx: RequestContext): boolean {
  const settings = ctx.zone?.zone.settings;
  if (ctx.secure || ctx.hop !== null || settings === undefined || !settings.always_use_https) return false;
  ctx.redirect = `https://${hostWithoutPort(ctx.host)}${ctx.path}`;
  ctx.synthStatus = settings.https_redirect_status;
  ctx.phase = 'synth';
  ctx.detail = 'https-redirect';
  return true;
}

/** Zones are found by hostname; a port in Host does not change the site. */
export function hostWithoutPort(host: string): string {
  const colon = host.lastIndexOf(':');
  return colon === -1 || host.endsWith(']') ? host : host.slice(0, colon);
}
