// Issue 13: `meridian up --internal-tls`, a small cluster (one edge PoP of two nodes and a shield of
// two): every node registers its https_url and verifies peers against up's local CA, so a miss that
// goes non-owner → owner → shield travels over TLS on every hop, and still reaches the origin once.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, fetchReply, type Reply } from '../helpers/processes.ts';
import { startUp, type UpRun } from '../helpers/up.ts';

const cachesOf = (reply: Reply): string[] =>
  String(reply.headers['cache-status'])
    .split(', ')
    .map((e) => e.split(';')[0] as string);

/** Full TLS handshakes a node's listener completed (its /metrics). */
async function handshakesOf(adminUrl: string): Promise<number> {
  const text = (await fetchReply(`${adminUrl}/metrics`)).body.toString();
  const match = /^meridian_edge_tls_handshakes_total\{result="full"\} (\d+)$/m.exec(text);
  return match === null ? 0 : Number(match[1]);
}

describe('meridian up --internal-tls', () => {
  let run: UpRun;

  before(async () => {
    run = await startUp(['--internal-tls', '--pops', 'a', '--nodes', '2', '--shield', 's'], 60_000);
  });

  after(async () => {
    await run?.cleanup();
  });

  it('nodes register their https_url; the description says the hops are TLS', async (t) => {
    t.diagnostic(`the describe file appeared ${run.startupMs} ms after up started`);
    const { cluster } = run;
    assert.deepEqual(cluster.tls, { ca: join(run.dir, 'state', 'tls', 'ca.pem'), internal: true });
    const registered = await api(cluster.control.url, cluster.control.token, 'GET', '/client/v4/nodes');
    const urls = (registered.body.result as { name: string; url: string }[])
      .map((n) => `${n.name} ${n.url}`)
      .sort();
    const described = cluster.pops.flatMap((p) => p.nodes.map((n) => `${n.name} ${n.https_url}`)).sort();
    assert.deepEqual(urls, described);
    assert.match(run.output(), /internal hops {2}over TLS/);
  });

  it('a miss through a non-owner, its owner and the shield goes over TLS and reaches the origin once', async () => {
    const { cluster } = run;
    const [a1, a2] = cluster.pops[0]?.nodes ?? [];
    assert.ok(a1 !== undefined && a2 !== undefined);
    const before = await handshakesOf(a2.admin_url);
    // Rendezvous hashing spreads keys: find one a-2 owns, asking a-1 (three caches on its path).
    let path: string | null = null;
    for (let i = 0; i < 40 && path === null; i++) {
      const attempt = `/tagged/hop-${i}`;
      const reply = await fetchReply(`${a1.url}${attempt}`, { headers: { host: cluster.zone.hostname } });
      assert.equal(reply.status, 200);
      const caches = cachesOf(reply);
      assert.match(caches[0] ?? '', /^s-[12]$/, String(reply.headers['cache-status']));
      if (caches.length === 3 && caches[1] === 'a-2') path = attempt;
    }
    assert.ok(path !== null, 'no key owned by a-2 in 40 tries');
    assert.ok((await handshakesOf(a2.admin_url)) > before, 'a-1 did not reach a-2 over TLS');
    const shield = cluster.pops.find((p) => p.role === 'shield')?.nodes ?? [];
    const atShield = await Promise.all(shield.map((n) => handshakesOf(n.admin_url)));
    assert.ok(atShield.reduce((x, y) => x + y, 0) > 0, 'the edge PoP did not reach the shield over TLS');
    const stats = JSON.parse((await fetchReply(`${cluster.origin.url}/__stats`)).body.toString()) as Record<
      string,
      number
    >;
    assert.equal(stats[path], 1);
    // No hop failed its handshake (every node verifies its peers against up's CA).
    const logs = join(run.dir, 'state', 'logs');
    for (const file of await readdir(logs)) {
      assert.doesNotMatch(await readFile(join(logs, file), 'utf8'), /peer TLS failed/, file);
    }
  });
});
