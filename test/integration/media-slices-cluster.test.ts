// Issue 18, slices in a managed PoP: a zone with settings.slice_size, two nodes in one PoP. Each
// slice has its own owner, so one large object is fetched from the origin by both nodes (each
// slice once for the PoP), the other node reads every slice from its owner, and a purge of the URL
// removes every slice on every node.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, fetchReply, removeDir, startControlProcess, startEdgeProcess } from '../helpers/processes.ts';
import type { ControlProc, EdgeProc } from '../helpers/processes.ts';
import { bodyOf, startRangeOrigin, type RangeOrigin } from '../helpers/range-origin.ts';

const HOST = 'media.slices.test';
const SLICE = 64 * 1024;
const SIZE = 2 * 1024 * 1024; // 32 slices
const PATH = '/ok/movie';
const URL_PATH = `${PATH}?size=${SIZE}`;

describe('slices across a PoP', () => {
  let origin: RangeOrigin;
  let control: ControlProc;
  let zoneId: string;
  const nodes: EdgeProc[] = [];
  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, control.adminToken, method, path, body);
  const get = (edge: EdgeProc, headers: Record<string, string> = {}) =>
    fetchReply(`${edge.url}${URL_PATH}`, { headers: { host: HOST, ...headers } });
  /** The node that sent each origin request: the last entry of its Via. */
  const fetchers = (): string[] =>
    origin.stats(PATH).via.map((via) => (via.split(',').pop() ?? '').trim().split(' ')[1] ?? '');

  before(async () => {
    origin = await startRangeOrigin();
    control = await startControlProcess();
    const nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body
      .result.value as string;
    await admin('PUT', '/client/v4/pops/nyc', { city: 'New York', latitude: 40.7, longitude: -74 });
    const zone = await admin('POST', '/client/v4/zones', {
      name: 'media',
      hostnames: [HOST],
      origins: [{ url: origin.url }],
      settings: { slice_size: SLICE },
    });
    assert.equal(zone.status, 201, JSON.stringify(zone.body.errors));
    zoneId = zone.body.result.id as string;
    for (const name of ['nyc-1', 'nyc-2']) {
      nodes.push(
        await startEdgeProcess(
          '',
          ['--control', control.url, '--pop', 'nyc', '--node', name, '--token', nodeToken],
          { noOrigin: true },
        ),
      );
    }
  });

  after(async () => {
    for (const edge of nodes) {
      await edge.stop();
      await removeDir(edge.cacheDir);
    }
    await control.stop();
    await removeDir(control.dataDir);
    await origin.close();
  });

  it('a bad slice_size is refused by the API, naming the field', async () => {
    const res = await admin('PATCH', `/client/v4/zones/${zoneId}`, { settings: { slice_size: 100 } });
    assert.equal(res.status, 400);
    assert.match(JSON.stringify(res.body.errors), /slice_size/);
  });

  it("one object's slices are fetched by both nodes, each slice once for the PoP", async () => {
    const [a, b] = nodes as [EdgeProc, EdgeProc];
    const first = await get(a);
    assert.equal(first.status, 200);
    assert.ok(first.body.equals(bodyOf(SIZE, '1')));
    const stats = origin.stats(PATH);
    assert.equal(stats.requests, SIZE / SLICE, 'one origin request per slice');
    assert.equal(stats.bytes, SIZE);
    const by = fetchers();
    assert.ok(by.includes('nyc-1') && by.includes('nyc-2'), `slices spread over the PoP: ${by.join(' ')}`);
    // The other node: every slice from its owner (itself or nyc-1), none from the origin.
    const second = await get(b, { range: `bytes=${SLICE - 1}-${SIZE - SLICE}` });
    assert.equal(second.status, 206);
    assert.ok(second.body.equals(bodyOf(SIZE, '1', SLICE - 1, SIZE - SLICE + 1)));
    assert.equal(origin.stats(PATH).requests, SIZE / SLICE);
  });

  it('a purge of the URL removes every slice on every node', async () => {
    const res = await admin('POST', `/client/v4/zones/${zoneId}/purge_cache`, {
      files: [`http://${HOST}${URL_PATH}`],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body.errors));
    const id = res.body.result.id as string;
    for (const deadline = Date.now() + 10_000; ;) {
      const status = await admin('GET', `/client/v4/zones/${zoneId}/purge_cache/${id}`);
      if (status.body.result.complete === true) break;
      assert.ok(Date.now() < deadline, 'purge applied in time');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const before = origin.stats(PATH).requests;
    const again = await get(nodes[1] as EdgeProc);
    assert.ok(again.body.equals(bodyOf(SIZE, '1')));
    assert.equal(origin.stats(PATH).requests - before, SIZE / SLICE, 'every slice fetched again');
  });
});
