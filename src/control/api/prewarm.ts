// /client/v4/zones/{id}/prewarm: load URLs (or an HLS playlist and its segments) into the caches of
// the chosen PoPs ahead of an event; the status per PoP and node, from the nodes' progress reports.
// Like a purge, a prewarm is an event in the ordered log; each node of a chosen PoP loads the URLs
// it owns (edge/prewarm/prewarmer.ts) and reports how far it got.
import { request } from 'undici';
import { z } from 'zod';
import { PrewarmRequestSchema } from '../../common/config/prewarm.ts';
import type { Zone } from '../../common/config/zone.ts';
import type { ControlStore } from '../store/types.ts';
import { ApiError, API_ERRORS, badRequest, notFound, ok } from './envelope.ts';
import type { Router } from './router.ts';

const NodeProgressSchema = z.object({
  name: z.string(),
  status: z.enum(['up', 'down']),
  /** done: reported every URL it owns; loading: reported some; pending: nothing yet; down: not reachable. */
  state: z.enum(['done', 'loading', 'pending', 'down']),
  total: z.number(),
  done: z.number(),
  failed: z.number(),
});
const PrewarmStatusSchema = z.object({
  id: z.string(),
  zone_id: z.string(),
  created_at: z.string(),
  seq: z.number(),
  files: z.number(),
  /** Every node that is up in the chosen PoPs has loaded (or failed) every URL it owns. */
  complete: z.boolean(),
  pops: z.array(
    z.object({
      name: z.string(),
      total: z.number(),
      done: z.number(),
      failed: z.number(),
      nodes: z.array(NodeProgressSchema),
    }),
  ),
});
const PrewarmCreatedSchema = z.object({
  id: z.string(),
  seq: z.number(),
  created_at: z.string(),
  files: z.number(),
});
const ProgressSchema = z
  .object({
    prewarm_id: z.string().min(1).max(64),
    total: z.number().int().min(0),
    done: z.number().int().min(0),
    failed: z.number().int().min(0),
  })
  .strict();

/** The most segments a manifest may name. */
const MAX_MANIFEST_FILES = 10_000;

export function prewarmRoutes(router: Router, store: ControlStore): void {
  router.add(
    {
      method: 'POST',
      path: '/client/v4/zones/:zone_id/prewarm',
      summary: 'Load URLs, or an HLS playlist and its segments, into the caches of the chosen PoPs',
      scope: 'purge',
      tag: 'prewarm',
      body: PrewarmRequestSchema,
      result: PrewarmCreatedSchema,
    },
    async ({ reply, params, body, actor }) => {
      const zone = await store.getZone(params.zone_id as string);
      if (zone === undefined) throw notFound('zone');
      const hostnames = new Set(zone.hostnames);
      const urls = body.files ?? [body.manifest as string];
      urls.forEach((url, i) => {
        const host = new URL(url).hostname.toLowerCase();
        const field = body.files === undefined ? 'manifest' : `files.${i}`;
        if (!hostnames.has(host))
          throw badRequest(`${field}: ${host} is not a hostname of zone ${zone.name}`);
      });
      if (body.pops !== undefined) {
        const known = new Set((await store.listPops()).map((p) => p.name));
        body.pops.forEach((pop, i) => {
          if (!known.has(pop)) throw badRequest(`pops.${i}: unknown PoP "${pop}"`);
        });
      }
      const files = body.manifest === undefined ? urls : await expandManifest(zone, body.manifest);
      const prewarm = await store.createPrewarm(zone.id, files, body.pops ?? null, actor);
      if (prewarm === undefined) throw notFound('zone');
      return ok(reply, {
        id: prewarm.id,
        seq: prewarm.seq,
        created_at: prewarm.created_at,
        files: files.length,
      });
    },
  );
  router.add(
    {
      method: 'GET',
      path: '/client/v4/zones/:zone_id/prewarm/:prewarm_id',
      summary: "A prewarm's progress per PoP and node, and whether every live node has loaded its part",
      scope: 'purge',
      tag: 'prewarm',
      result: PrewarmStatusSchema,
    },
    async ({ reply, params }) => {
      const prewarm = await store.getPrewarm(params.zone_id as string, params.prewarm_id as string);
      if (prewarm === undefined) throw notFound('prewarm');
      const [progress, nodes, pops] = await Promise.all([
        store.listPrewarmProgress(prewarm.id),
        store.listNodes(),
        store.listPops(),
      ]);
      const chosen = new Set(prewarm.pops ?? pops.filter((p) => p.role === 'edge').map((p) => p.name));
      const byNode = new Map(progress.map((p) => [p.node, p]));
      const out = new Map<string, z.infer<typeof PrewarmStatusSchema>['pops'][number]>();
      let complete = true;
      for (const node of nodes) {
        if (!chosen.has(node.pop)) continue;
        const p = byNode.get(node.name);
        const finished = p !== undefined && p.done + p.failed >= p.total;
        const state = finished
          ? 'done'
          : node.status === 'down'
            ? 'down'
            : p === undefined
              ? 'pending'
              : 'loading';
        if (state === 'pending' || state === 'loading') complete = false;
        let pop = out.get(node.pop);
        if (pop === undefined)
          out.set(node.pop, (pop = { name: node.pop, total: 0, done: 0, failed: 0, nodes: [] }));
        const counts = { total: p?.total ?? 0, done: p?.done ?? 0, failed: p?.failed ?? 0 };
        pop.total += counts.total;
        pop.done += counts.done;
        pop.failed += counts.failed;
        pop.nodes.push({ name: node.name, status: node.status, state, ...counts });
      }
      return ok(reply, {
        id: prewarm.id,
        zone_id: prewarm.zone_id,
        created_at: prewarm.created_at,
        seq: prewarm.seq,
        files: prewarm.files.length,
        complete,
        pops: [...out.values()].sort((a, b) => a.name.localeCompare(b.name)),
      });
    },
  );
  router.add(
    {
      method: 'POST',
      path: '/internal/v1/nodes/:node_name/prewarm-progress',
      summary: 'A node reports how many of the URLs it owns in a prewarm it loaded',
      scope: 'node',
      tag: 'internal',
      body: ProgressSchema,
    },
    async ({ reply, params, body }) => {
      const recorded = await store.recordPrewarmProgress(params.node_name as string, body);
      return ok(reply, { recorded });
    },
  );
}

/**
 * The playlist and the segments (or variant playlists, one level down) it names, as URLs of the
 * zone. The control plane reads it from the zone's first origin, with the playlist's Host.
 */
async function expandManifest(zone: Zone, manifest: string): Promise<string[]> {
  const origin = zone.origins.find((o) => o.weight > 0) ?? zone.origins[0];
  if (origin === undefined) throw manifestError('the zone has no origin');
  const readPlaylist = async (url: URL): Promise<string[]> => {
    const upstream = new URL(`${url.pathname}${url.search}`, origin.url);
    let text: string;
    try {
      const res = await request(upstream, {
        headers: { host: origin.host_header ?? url.host },
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`origin answered ${res.statusCode}`);
    } catch (err) {
      throw manifestError(`${url.href}: ${(err as Error).message}`);
    }
    if (!text.startsWith('#EXTM3U')) throw manifestError(`${url.href}: not an HLS playlist (#EXTM3U)`);
    return text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((uri) => new URL(uri, url).href);
  };
  const top = new URL(manifest);
  const files = [top.href];
  for (const entry of await readPlaylist(top)) {
    files.push(entry);
    // A master playlist names variant playlists: their segments are loaded too.
    if (/\.m3u8(\?|$)/i.test(new URL(entry).pathname + new URL(entry).search)) {
      for (const segment of await readPlaylist(new URL(entry))) files.push(segment);
    }
    if (files.length > MAX_MANIFEST_FILES) throw manifestError(`more than ${MAX_MANIFEST_FILES} URLs`);
  }
  const hostnames = new Set(zone.hostnames);
  return files.filter((f) => hostnames.has(new URL(f).hostname.toLowerCase()));
}

function manifestError(message: string): ApiError {
  return new ApiError(502, API_ERRORS.prewarm_manifest, `manifest: ${message}`);
}
