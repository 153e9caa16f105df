// Prewarm requests (docs/media.md): what `POST /client/v4/zones/{id}/prewarm` accepts and what the
// `prewarm` event carries to the nodes. The nodes of the chosen PoPs that own a URL fetch it into
// their cache ahead of an event, and report their progress.
import { z } from 'zod';

export const PREWARM_LIMITS = Object.freeze({ files: 10_000 });

const absoluteUrl = z
  .string()
  .max(4096)
  .refine((u) => /^https?:\/\/[^/?#]+/i.test(u) && URL.canParse(u), 'must be an absolute http(s) URL');

const popName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'a PoP name');

export const PrewarmRequestSchema = z
  .object({
    files: z
      .array(absoluteUrl)
      .min(1)
      .max(PREWARM_LIMITS.files)
      .optional()
      .describe('URLs of the zone to load into the cache.'),
    manifest: absoluteUrl
      .optional()
      .describe('An HLS playlist of the zone: it and every segment it names are loaded.'),
    pops: z.array(popName).min(1).max(100).optional().describe('Only these PoPs (default: every edge PoP).'),
  })
  .strict()
  .refine((r) => (r.files === undefined) !== (r.manifest === undefined), {
    message: 'give exactly one of files and manifest',
    path: ['files'],
  })
  .meta({ id: 'PrewarmRequest' });

export type PrewarmRequest = z.infer<typeof PrewarmRequestSchema>;

/** What the event carries: the URLs (a manifest already expanded) and the PoPs (null: every edge PoP). */
export interface Prewarm {
  id: string;
  zone_id: string;
  files: string[];
  pops: string[] | null;
  created_at: string;
}
