// Issue 13, a zone's HTTPS settings on managed nodes with an HTTPS listener: always_use_https
// (301 / 308, plain HTTP only, never an internal hop), HSTS (HTTPS only, misses and hits, HTTP/2 and
// the HTTP/1.1 serialised hit head, off again when the zone changes), the scheme kept across an
// internal hop, and URL purges that reach both the http and the https object (issue 20).
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  api,
  fetchReply,
  originCount,
  removeDir,
  startControlProcess,
  startEdgeProcess,
  startTestOrigin,
} from '../helpers/processes.ts';
import type { ControlProc, EdgeProc, Proc, Reply } from '../helpers/processes.ts';
import { curl, h2Get, writeTestCerts, type TestCerts } from '../helpers/https-clients.ts';

const cacheStatus = (reply: { headers: Record<string, unknown> }): string =>
  String(reply.headers['cache-status']);

describe('zone HTTPS settings and purges (managed)', () => {
  const SECURE = 'secure.test';
  const MIXED = 'mixed.test';
  let origin: Proc;
  let control: ControlProc;
  let certs: TestCerts;
  let dir: string;
  let secureZone: string;
  let mixedZone: string;
  const nodes: EdgeProc[] = [];

  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, control.adminToken, method, path, body);
  const plain = (edge: EdgeProc, host: string, path: string): Promise<Reply> =>
    fetchReply(`${edge.url}${path}`, { headers: { host } });
  // :authority without the test's port, as a client of port 443 sends it (the port is part of the key).
  const https = (edge: EdgeProc, host: string, path: string) =>
    h2Get(edge.tlsPort as number, host, certs.ca, path, { ':authority': host });

  async function eventually(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await check()) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.fail(`not within ${ms} ms: ${what}`);
  }

  async function purge(zone: string, files: string[]): Promise<void> {
    const res = await admin('POST', `/client/v4/zones/${zone}/purge_cache`, { files });
    assert.equal(res.status, 200, JSON.stringify(res.body.errors));
    const id = res.body.result.id as string;
    await eventually(
      async () => (await admin('GET', `/client/v4/zones/${zone}/purge_cache/${id}`)).body.result.complete,
      `purge ${id} complete`,
    );
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meridian-https-zones-'));
    certs = await writeTestCerts(dir, [SECURE, MIXED]);
    origin = await startTestOrigin();
    control = await startControlProcess();
    const token = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body.result
      .value as string;
    await admin('PUT', '/client/v4/pops/tls', { city: 'Testville', latitude: 1, longitude: 2 });
    const hsts = { enabled: true, max_age: 600, include_subdomains: true, preload: false };
    secureZone = (
      await admin('POST', '/client/v4/zones', {
        name: 'secure',
        hostnames: [SECURE],
        origins: [{ url: origin.url }],
        settings: { always_use_https: true, hsts },
      })
    ).body.result.id;
    mixedZone = (
      await admin('POST', '/client/v4/zones', {
        name: 'mixed',
        hostnames: [MIXED],
        origins: [{ url: origin.url }],
        settings: { hsts },
      })
    ).body.result.id;
    for (const name of ['tls-a', 'tls-b']) {
      nodes.push(
        await startEdgeProcess(
          '',
          [
            ...['--control', control.url, '--pop', 'tls', '--node', name, '--token', token],
            ...['--listen-tls', '127.0.0.1:0', '--tls-cert', certs.certFile, '--tls-key', certs.keyFile],
          ],
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
    await origin.stop();
    await removeDir(dir);
  });

  it('always_use_https: plain HTTP gets a 301 to the https:// URL, before the cache; HTTPS is served', async () => {
    const edge = nodes[0] as EdgeProc;
    const redirected = await plain(edge, `${SECURE}:8080`, '/aus/page?q=1');
    assert.equal(redirected.status, 301);
    assert.equal(redirected.headers.location, `https://${SECURE}/aus/page?q=1`);
    assert.equal(redirected.headers['strict-transport-security'], undefined);
    assert.equal(await originCount(origin, '/aus/page'), 0);
    const served = await https(edge, SECURE, '/aus/page?q=1');
    assert.equal(served.status, 200);
  });

  it('https_redirect_status 308 is applied once the zone changes', async () => {
    const res = await admin('PATCH', `/client/v4/zones/${secureZone}`, {
      settings: { https_redirect_status: 308 },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body.errors));
    await eventually(
      async () => (await plain(nodes[0] as EdgeProc, SECURE, '/aus/308')).status === 308,
      '308 redirect',
    );
  });

  it('HSTS over HTTPS only, on misses and hits, over HTTP/2 and HTTP/1.1', async () => {
    const edge = nodes[0] as EdgeProc;
    const path = '/hsts/a?cc=max-age%3D60';
    const miss = await https(edge, MIXED, path);
    assert.equal(miss.headers['strict-transport-security'], 'max-age=600; includeSubDomains');
    const hit = await https(edge, MIXED, path);
    assert.match(cacheStatus(hit), /; hit/);
    assert.equal(hit.headers['strict-transport-security'], 'max-age=600; includeSubDomains');
    // The HTTP/1.1 hit takes the serialised-head fast path: it must carry the header too.
    for (let i = 0; i < 2; i++) {
      const h1 = await curl(edge.tlsPort as number, MIXED, certs.caFile, path, [
        '--http1.1',
        '-i',
        '-H',
        `host: ${MIXED}`,
      ]);
      assert.match(h1.stdout, /cache-status: tls-a; hit/);
      assert.match(h1.stdout, /strict-transport-security: max-age=600; includeSubDomains\r\n/);
    }
    for (let i = 0; i < 2; i++) {
      const overHttp = await plain(edge, MIXED, path);
      assert.equal(overHttp.status, 200);
      assert.equal(overHttp.headers['strict-transport-security'], undefined);
    }
  });

  it('turning HSTS off reaches the cached hit heads too', async () => {
    const edge = nodes[0] as EdgeProc;
    const path = '/hsts/off?cc=max-age%3D60';
    await https(edge, MIXED, path);
    await admin('PATCH', `/client/v4/zones/${mixedZone}`, {
      settings: { hsts: { enabled: false, max_age: 600, include_subdomains: true, preload: false } },
    });
    await eventually(
      async () => (await https(edge, MIXED, path)).headers['strict-transport-security'] === undefined,
      'HSTS gone',
    );
    const h1 = await curl(edge.tlsPort as number, MIXED, certs.caFile, path, [
      '--http1.1',
      '-i',
      '-H',
      `host: ${MIXED}`,
    ]);
    assert.match(h1.stdout, /; hit/);
    assert.doesNotMatch(h1.stdout, /strict-transport-security/i);
  });

  it('an internal hop keeps the https scheme, and the owner does not redirect it', async () => {
    // Fresh paths until one is owned by the other node: its answer then names both nodes.
    let hopped = false;
    for (let i = 0; i < 20 && !hopped; i++) {
      const path = `/hop/p${i}?cc=max-age%3D60`;
      for (const edge of nodes) {
        const reply = await https(edge, SECURE, path);
        assert.equal(reply.status, 200, `${path}: ${cacheStatus(reply)}`);
        if (/tls-a;.*tls-b;|tls-b;.*tls-a;/.test(cacheStatus(reply))) hopped = true;
      }
      const last = JSON.parse((await fetchReply(`${origin.url}/__last?path=/hop/p${i}`)).body.toString());
      assert.equal((last as Record<string, string>)['x-forwarded-proto'], 'https');
    }
    assert.ok(hopped, 'some fill went through the key owner');
  });

  it('a URL purge by https:// removes the object fetched over http, and by http:// the https one', async () => {
    const edge = nodes[0] as EdgeProc;
    const viaHttp = '/purge/over-http?cc=max-age%3D600';
    await plain(edge, MIXED, viaHttp);
    assert.match(cacheStatus(await plain(edge, MIXED, viaHttp)), /; hit/);
    await purge(mixedZone, [`https://${MIXED}${viaHttp}`]);
    const refetched = await plain(edge, MIXED, viaHttp);
    assert.doesNotMatch(cacheStatus(refetched), /; hit/);

    const viaHttps = '/purge/over-https?cc=max-age%3D600';
    await https(edge, MIXED, viaHttps);
    assert.match(cacheStatus(await https(edge, MIXED, viaHttps)), /; hit/);
    await purge(mixedZone, [`http://${MIXED}${viaHttps}`]);
    const again = await https(edge, MIXED, viaHttps);
    assert.doesNotMatch(cacheStatus(again), /; hit/);
  });
});
