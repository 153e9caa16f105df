// Session resumption across the nodes of a PoP: two servers whose TLS state has the same snapshot
// ticket_key and PoP resume each other's sessions (TLS 1.3 and 1.2 tickets); a server of another
// PoP, or a standalone one (random key), does not.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/common/log.ts';
import type { Snapshot } from '../../src/common/events/types.ts';
import { createCertificateAuthority } from '../../src/common/tls/local-ca.ts';
import { EdgeTls } from '../../src/edge/tls/edge-tls.ts';
import { handshake, startTlsTestServer, type TlsTestServer } from '../helpers/tls.ts';

const log = createLogger('test', 'error');
const ticketKey = randomBytes(32).toString('base64url');

function nodeTls(pop: string | null): EdgeTls {
  return new EdgeTls({
    config: {
      nodeName: `node-${pop}`,
      cacheDir: tmpdir(),
      control:
        pop === null
          ? null
          : {
              url: new URL('http://127.0.0.1:9/'),
              token: 't',
              pop,
              publicUrl: null,
              nats: null,
              natsStream: 'S',
              role: null,
            },
      tls: { listen: null, certFile: null, keyFile: null, unknownSni: 'reject' },
    },
    log,
  });
}

const snapshot: Snapshot = { seq: 1, zones: [], rules: {}, pops: [], nodes: [], ticket_key: ticketKey };

describe('edge TLS: session resumption with shared ticket keys', () => {
  const nodes: { tls: EdgeTls; server: TlsTestServer }[] = [];

  before(async () => {
    const ca = await createCertificateAuthority('Resume CA');
    const cert = await ca.issue({ hosts: ['r.test'] });
    for (const pop of ['nyc', 'nyc', 'iad', null]) {
      const tls = nodeTls(pop);
      tls.store.putPem({ id: 'r', usage: 'server' }, cert.chainPem, cert.keyPem);
      const server = await startTlsTestServer(tls);
      tls.applySnapshot(snapshot); // after attach: the key reaches servers already attached
      nodes.push({ tls, server });
    }
  });

  after(async () => {
    for (const { tls, server } of nodes) {
      await server.close();
      tls.close();
    }
  });

  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`${version}: a session from one node of the PoP resumes on the other, not elsewhere`, async () => {
      const [a, b, otherPop, standalone] = nodes.map((n) => n.server.port) as [
        number,
        number,
        number,
        number,
      ];
      const first = await handshake(a, 'r.test', { maxVersion: version });
      assert.equal(first.error, null);
      assert.ok(first.session !== null, 'the server issued a ticket');
      const onB = await handshake(b, 'r.test', { maxVersion: version, session: first.session });
      assert.equal(onB.reused, true, 'resumed on the second node of the PoP');
      const onOther = await handshake(otherPop, 'r.test', { maxVersion: version, session: first.session });
      assert.equal(onOther.error, null);
      assert.equal(onOther.reused, false, 'another PoP does a full handshake');
      const onStandalone = await handshake(standalone, 'r.test', {
        maxVersion: version,
        session: first.session,
      });
      assert.equal(onStandalone.reused, false);
    });
  }

  it('TLS 1.2: no session-ID resumption once the ticket key changed (no server-side session cache)', async () => {
    const c = nodes[2] as { tls: EdgeTls; server: TlsTestServer };
    const first = await handshake(c.server.port, 'r.test', { maxVersion: 'TLSv1.2' });
    assert.equal(
      (
        await handshake(c.server.port, 'r.test', {
          maxVersion: 'TLSv1.2',
          session: first.session ?? undefined,
        })
      ).reused,
      true,
    );
    c.tls.applySnapshot({ ...snapshot, ticket_key: randomBytes(32).toString('base64url') }); // a new secret: a new key
    const again = await handshake(c.server.port, 'r.test', {
      maxVersion: 'TLSv1.2',
      session: first.session ?? undefined,
    });
    assert.equal(again.error, null);
    assert.equal(again.reused, false, 'the session ID alone does not resume');
  });

  it('counts full and resumed handshakes', () => {
    const b = nodes[1]?.tls as EdgeTls;
    assert.equal(b.handshakes.resumed, 2);
  });
});
