// Issue 18, prewarm: a control plane, two nodes in nyc and one in fra. `meridian prewarm --wait` loads a
// list of URLs into nyc only (each URL by its owner, one origin fetch each), shows the progress per
// PoP, and the URLs are then hits on every nyc node while fra still fetches them. A manifest is
// expanded into its segments. Bad input gets a 400 naming the field.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  api,
  CLI,
  fetchReply,
  removeDir,
  startControlProcess,
  startEdgeProcess,
} from '../helpers/processes.ts';
import type { ControlProc, EdgeProc } from '../helpers/processes.ts';

const run = promisify(execFile);
const HOST = 'warm.prewarm.test';

describe('prewarm', () => {
  let server: Server;
  let control: ControlProc;
  let zoneId: string;
  const nodes = new Map<string, EdgeProc>();
  const counts = new Map<string, number>();
  const count = (path: string): number => counts.get(path) ?? 0;
  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, control.adminToken, method, path, body);
  const get = (node: string, path: string) =>
    fetchReply(`${(nodes.get(node) as EdgeProc).url}${path}`, { headers: { host: HOST } });

  before(async () => {
    server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] as string;
      counts.set(path, count(path) + 1);
      if (path === '/show/index.m3u8') {
        const body =
          '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\ns1.ts\n#EXTINF:4,\ns2.ts\n#EXT-X-ENDLIST\n';
        res.writeHead(200, {
          'content-type': 'application/vnd.apple.mpegurl',
          'cache-control': 'max-age=600',
        });
        res.end(body);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=600' });
      res.end(Buffer.alloc(5000, path.length));
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    control = await startControlProcess();
    const token = (await admin('POST', '/client/v4/tokens', { name: 'n', scopes: ['node'] })).body.result
      .value as string;
    await admin('PUT', '/client/v4/pops/nyc', { city: 'New York', latitude: 40.7, longitude: -74 });
    await admin('PUT', '/client/v4/pops/fra', { city: 'Frankfurt', latitude: 50.1, longitude: 8.7 });
    const zone = await admin('POST', '/client/v4/zones', {
      name: 'warm',
      hostnames: [HOST],
      origins: [{ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }],
    });
    zoneId = zone.body.result.id as string;
    for (const [name, pop] of [
      ['nyc-1', 'nyc'],
      ['nyc-2', 'nyc'],
      ['fra-1', 'fra'],
    ] as const) {
      nodes.set(
        name,
        await startEdgeProcess(
          '',
          ['--control', control.url, '--pop', pop, '--node', name, '--token', token],
          {
            noOrigin: true,
          },
        ),
      );
    }
  });

  after(async () => {
    for (const edge of nodes.values()) {
      await edge.stop();
      await removeDir(edge.cacheDir);
    }
    await control.stop();
    await removeDir(control.dataDir);
    server.closeAllConnections();
    server.close();
  });

  it('meridian prewarm --wait loads the list into nyc, one origin fetch per URL, with progress per PoP', async () => {
    const paths = Array.from({ length: 12 }, (_, i) => `/event/file-${i}.bin`);
    const list = join(control.dataDir, 'list.txt');
    await writeFile(list, `# the event's files\n${paths.map((p) => `http://${HOST}${p}`).join('\n')}\n`);
    const { stdout } = await run(
      process.execPath,
      [CLI, 'prewarm', '--zone', 'warm', '--file', list, '--pops', 'nyc', '--wait', '--timeout', '30s'],
      { env: { ...process.env, MERIDIAN_API: control.url, MERIDIAN_TOKEN: control.adminToken } },
    );
    assert.match(stdout, /accepted: 12 URLs/);
    assert.match(stdout, /nyc \[#{20}\] 12\/12/);
    assert.match(stdout, /complete in \d+ ms/);
    assert.ok(!/fra/.test(stdout), 'fra was not chosen');
    for (const path of paths) assert.equal(count(path), 1, `${path}: one origin fetch for the PoP`);
    for (const node of ['nyc-1', 'nyc-2']) {
      for (const path of paths) {
        const reply = await get(node, path);
        assert.equal(reply.status, 200);
      }
    }
    for (const path of paths)
      assert.equal(count(path), 1, `${path}: every nyc request answered from the cache`);
    await get('fra-1', paths[0] as string);
    assert.equal(count(paths[0] as string), 2, 'fra was not prewarmed');
  });

  it('a manifest is expanded into its segments; the status shows each node', async () => {
    const res = await admin('POST', `/client/v4/zones/${zoneId}/prewarm`, {
      manifest: `http://${HOST}/show/index.m3u8`,
      pops: ['nyc'],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body.errors));
    assert.equal(res.body.result.files, 3);
    const id = res.body.result.id as string;
    let status: {
      complete: boolean;
      pops: { name: string; total: number; done: number; nodes: unknown[] }[];
    };
    for (const deadline = Date.now() + 10_000; ;) {
      status = (await admin('GET', `/client/v4/zones/${zoneId}/prewarm/${id}`)).body.result;
      if (status.complete) break;
      assert.ok(Date.now() < deadline, JSON.stringify(status));
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(
      status.pops.map((p) => [p.name, p.total, p.done, p.nodes.length]),
      [['nyc', 3, 3, 2]],
    );
    assert.equal(count('/show/s1.ts'), 1);
    assert.equal(count('/show/s2.ts'), 1);
  });

  it('bad input: 400 naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      [{ files: ['http://other.test/x'] }, /files\.0/],
      [{ files: [`http://${HOST}/a`], manifest: `http://${HOST}/m.m3u8` }, /exactly one/],
      [{}, /exactly one/],
      [{ files: [`http://${HOST}/a`], pops: ['mars'] }, /pops\.0/],
      [{ files: ['not a url'] }, /files\.0/],
      [{ files: [`http://${HOST}/a`], extra: 1 }, /extra/],
    ];
    for (const [body, message] of cases) {
      const res = await admin('POST', `/client/v4/zones/${zoneId}/prewarm`, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(JSON.stringify(res.body.errors), message);
    }
    const unreadable = await admin('POST', `/client/v4/zones/${zoneId}/prewarm`, {
      manifest: `http://${HOST}/event/file-1.bin`,
    });
    assert.equal(unreadable.status, 502);
    assert.equal(unreadable.body.errors[0]?.code, 1901);
  });
});
