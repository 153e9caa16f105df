// ip.src.country for the rules language: the client's country from MaxMind-format databases
// (--geoip FILE.mmdb, repeatable; MaxMind's GeoLite2/GeoIP2 Country or City, or DB-IP's Lite city
// files, which name it `country_code`). Looked up only when a rule reads the field (lazy), each
// database read whole into memory with an LRU of records, so a lookup is no I/O.
import { open, type Reader, type Response } from 'maxmind';

interface CountryRecord {
  country?: { iso_code?: string };
  country_code?: string;
}

export type CountryLookup = (ip: string) => string;

export async function openCountryLookup(paths: readonly string[]): Promise<CountryLookup | null> {
  if (paths.length === 0) return null;
  const readers: Reader<Response>[] = [];
  for (const path of paths) readers.push(await open(path, { cache: { max: 50_000 } }));
  return (ip) => {
    const v6 = ip.includes(':');
    for (const reader of readers) {
      // An IPv4-only database cannot answer an IPv6 address (maxmind throws on it).
      if (v6 && reader.metadata.ipVersion === 4) continue;
      let record: CountryRecord | null;
      try {
        record = reader.get(ip) as CountryRecord | null;
      } catch {
        continue;
      }
      const code = record?.country?.iso_code ?? record?.country_code;
      if (typeof code === 'string' && code !== '') return code.toUpperCase();
    }
    return '';
  };
}
