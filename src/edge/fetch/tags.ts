// Surrogate keys of a response: Cache-Tag (comma separated, Cloudflare/Akamai) and Surrogate-Key
// (space separated, Fastly). Purge by tag removes every object carrying the tag.
import type { Headers } from '../../lib/http-cache/headers.ts';
import { headerValue } from '../../lib/http-cache/headers.ts';

/** Upper bounds so a hostile origin cannot make one object index thousands of tags. */
const MAX_TAGS = 64;
const MAX_TAG_LENGTH = 256;

export function parseTags(headers: Headers): string[] {
  const tags = new Set<string>();
  const add = (tag: string): void => {
    if (tag !== '' && tag.length <= MAX_TAG_LENGTH && tags.size < MAX_TAGS) tags.add(tag);
  };
  for (const tag of (headerValue(headers, 'cache-tag') ?? '').split(',')) add(tag.trim());
  for (const tag of (headerValue(headers, 'surrogate-key') ?? '').split(/\s+/)) add(tag);
  return [...tags];
}
