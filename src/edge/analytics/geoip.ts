// The client's country for analytics, from MaxMind DB files (GeoLite2/GeoIP2 Country or City:
// country.iso_code; DB-IP lite: country_code), read with the maxmind package. Several files may be
// given (DB-IP ships IPv4 and IPv6 apart): the first that knows the address answers. Looked up per
// client address and memoised (a bounded map, cleared when full): a keep-alive client's requests
// cost one lookup, not one each.
import { open, type Reader, type Response } from 'maxmind';

const MEMO_LIMIT = 50_000;

type CountryRecord = Response & { country?: { iso_code?: string }; country_code?: string };

export async function openCountryLookup(files: readonly string[]): Promise<(ip: string) => string | null> {
  const readers: Reader<CountryRecord>[] = [];
  for (const file of files) readers.push(await open<CountryRecord>(file));
  const memo = new Map<string, string | null>();
  return (ip) => {
    const known = memo.get(ip);
    if (known !== undefined) return known;
    const bare = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
    let country: string | null = null;
    for (const reader of readers) {
      try {
        const r = reader.get(bare);
        country = r?.country?.iso_code ?? r?.country_code ?? null;
      } catch {
        country = null; // an IPv6 address in an IPv4-only database
      }
      if (country !== null) break;
    }
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(ip, country);
    return country;
  };
}
