// Issue 16: the Rulesets API validates what nodes could not run (expression positions, limits),
// changes reach nodes through the event log, and the filter step enforces each action: custom rules
// (block, challenge, log, skip), log-only mode, the managed rule set with paranoia, exceptions and
// overrides, rate limits exact under concurrency on one node and across two nodes through Redis,
// under-attack mode and the proof-of-work challenge (solved here as a browser's script would).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { after, before, describe, it } from 'node:test';
import {
  api,
  CLI,
  fetchReply,
  removeDir,
  startControlProcess,
  startEdgeProcess,
  startTestOrigin,
} from '../helpers/processes.ts';
import type { ControlProc, EdgeProc, Proc, Reply } from '../helpers/processes.ts';

const HOST = 'waf.test';
const execFileP = promisify(execFile);
const REDIS = 'redis://127.0.0.1:6379';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PHASE = (p: string) => `/rulesets/phases/${p}/entrypoint`;

describe('edge security', () => {
  let origin: Proc;
  let control: ControlProc;
  let zoneId: string;
  let a: EdgeProc;
  let b: EdgeProc;
  let marker = 0;

  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, control.adminToken, method, path, body);
  const zone = (method: string, path: string, body?: unknown) =>
    admin(method, `/client/v4/zones/${zoneId}${path}`, body);
  const get = (edge: EdgeProc, path: string, headers: Record<string, string> = {}): Promise<Reply> =>
    fetchReply(`${edge.url}${path}`, {
      headers: { host: HOST, 'user-agent': 'Mozilla/5.0 test', ...headers },
    });

  /** PUTs a phase and waits until both nodes enforce it (a marker rule answers 403 on /__marker/N). */
  async function put(phase: string, rules: unknown[]): Promise<void> {
    const res = await zone('PUT', PHASE(phase), { rules });
    assert.equal(res.status, 200, JSON.stringify(res.body.errors));
    marker++;
    const res2 = await zone('PUT', PHASE('http_request_firewall_custom'), {
      rules: [
        { expression: `http.request.uri.path eq "/__marker/${marker}"`, action: 'block' },
        ...(phase === 'http_request_firewall_custom' ? rules : customRules),
      ],
    });
    assert.equal(res2.status, 200, JSON.stringify(res2.body.errors));
    if (phase === 'http_request_firewall_custom') customRules = rules;
    for (const edge of [a, b]) {
      const deadline = Date.now() + 10_000;
      while ((await get(edge, `/__marker/${marker}`)).status !== 403) {
        if (Date.now() > deadline) assert.fail(`rules did not reach ${edge.url}`);
        await sleep(20);
      }
    }
  }
  let customRules: unknown[] = [];

  before(async () => {
    origin = await startTestOrigin();
    control = await startControlProcess();
    const nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body
      .result.value;
    await admin('PUT', '/client/v4/pops/ams', { city: 'Amsterdam', latitude: 52.4, longitude: 4.9 });
    zoneId = (
      await admin('POST', '/client/v4/zones', {
        name: 'waf',
        hostnames: [HOST],
        origins: [{ url: origin.url }],
      })
    ).body.result.id;
    const node = (name: string) =>
      startEdgeProcess(
        '',
        ['--control', control.url, '--pop', 'ams', '--node', name, '--token', nodeToken, '--redis', REDIS],
        {
          noOrigin: true,
          admin: true,
        },
      );
    a = await node('ams-1');
    b = await node('ams-2');
  });

  after(async () => {
    for (const edge of [a, b]) {
      await edge?.stop();
      if (edge !== undefined) await removeDir(edge.cacheDir);
    }
    await control?.stop();
    if (control !== undefined) await removeDir(control.dataDir);
    await origin?.stop();
  });

  describe('API validation', () => {
    const bad = async (phase: string, rules: unknown[], field: RegExp) => {
      const res = await zone('PUT', PHASE(phase), { rules });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(res.body.errors.map((e) => e.message).join('; '), field);
    };
    it('an expression that does not parse: 400 naming the field and the position', () =>
      bad(
        'http_request_firewall_custom',
        [{ expression: 'http.host eq "a" and', action: 'block' }],
        /rules\.0\.expression: .*at position 20/,
      ));
    it('a regex that would backtrack', () =>
      bad(
        'http_request_firewall_custom',
        [
          { expression: 'http.host eq "a"', action: 'log' },
          { expression: 'http.host matches "(a+)\\\\1"', action: 'block' },
        ],
        /rules\.1\.expression: invalid regular expression/,
      ));
    it('a rate limit of 0 and a period of a year', async () => {
      const rl = (requests_per_period: number, period: number) => ({
        expression: 'true',
        action: 'block',
        ratelimit: { characteristics: ['ip.src'], period, requests_per_period },
      });
      await bad('http_ratelimit', [rl(0, 60)], /rules\.0\.ratelimit\.requests_per_period/);
      await bad('http_ratelimit', [rl(10, 31_536_000)], /rules\.0\.ratelimit\.period/);
    });
    it('a ruleset over the size limit, unknown fields, bad actions', async () => {
      const many = Array.from({ length: 101 }, () => ({ expression: 'true', action: 'log' }));
      await bad('http_request_firewall_custom', many, /rules: at most 100 rules/);
      await bad(
        'http_request_firewall_custom',
        [{ expression: 'true', action: 'log', extra: 1 }],
        /rules\.0\.extra: unknown field/,
      );
      await bad(
        'http_request_firewall_custom',
        [{ expression: 'true', action: 'execute' }],
        /rules\.0\.action/,
      );
      await bad(
        'http_request_firewall_custom',
        [{ expression: 'true', action: 'skip' }],
        /rules\.0\.action_parameters: skip needs/,
      );
    });
    it('scopes: firewall:read may read, not write; zones:read may not read', async () => {
      const token = async (scopes: string[]) =>
        (await admin('POST', '/client/v4/tokens', { name: scopes.join(','), scopes })).body.result
          .value as string;
      const reader = await token(['firewall:read']);
      const other = await token(['zones:read']);
      await zone('PUT', PHASE('http_ratelimit'), { rules: [] });
      const path = `/client/v4/zones/${zoneId}${PHASE('http_ratelimit')}`;
      assert.equal((await api(control.url, reader, 'GET', path)).status, 200);
      assert.equal((await api(control.url, reader, 'PUT', path, { rules: [] })).status, 403);
      assert.equal((await api(control.url, other, 'GET', path)).status, 403);
    });
    it('GET returns the ruleset Cloudflare-shaped, with ids and a version', async () => {
      const res = await zone('PUT', PHASE('http_ratelimit'), { rules: [] });
      const again = await zone('GET', PHASE('http_ratelimit'));
      assert.equal(again.status, 200);
      assert.equal(again.body.result.phase, 'http_ratelimit');
      assert.equal(again.body.result.kind, 'zone');
      assert.equal(Number(again.body.result.version), Number(res.body.result.version));
    });
  });

  describe('custom rules', () => {
    before(() =>
      put('http_request_firewall_custom', [
        {
          id: 'allow-ops',
          expression: 'ip.src in {10.0.0.0/8} or http.request.headers["x-ops"] eq "yes"',
          action: 'skip',
          action_parameters: { ruleset: 'current' },
        },
        { id: 'no-admin', expression: 'http.request.uri.path matches "^/admin"', action: 'block' },
        {
          id: 'teapot',
          expression: 'http.request.uri.path eq "/teapot"',
          action: 'block',
          action_parameters: {
            response: { status_code: 418, content: 'short and stout', content_type: 'text/plain' },
          },
        },
        { id: 'watch-bots', expression: 'lower(http.user_agent) contains "badbot"', action: 'log' },
        {
          id: 'trial',
          expression: 'http.request.uri.query contains "trial=1"',
          action: 'block',
          log_only: true,
        },
        { id: 'check-me', expression: 'http.request.uri.path eq "/check"', action: 'js_challenge' },
      ]),
    );
    it('block: 403 with the rule id, never reaching the origin', async () => {
      const r = await get(a, '/admin/panel');
      assert.equal(r.status, 403);
      assert.match(r.body.toString(), /no-admin/);
      assert.equal(r.headers['cache-control'], 'no-store');
    });
    it('block with a custom response', async () => {
      const r = await get(b, '/teapot');
      assert.equal(r.status, 418);
      assert.equal(r.body.toString(), 'short and stout');
    });
    it('skip: the remaining custom rules do not run', async () => {
      assert.equal((await get(a, '/admin/panel', { 'x-ops': 'yes' })).status, 200);
    });
    it('log and log-only: the request goes on, the decision is counted with its mode', async () => {
      assert.equal((await get(a, '/page?x=1', { 'user-agent': 'BadBot/1.0' })).status, 200);
      assert.equal((await get(a, '/page?trial=1')).status, 200);
      const metrics = (await fetchReply(`${a.adminUrl}/metrics`)).body.toString();
      assert.match(
        metrics,
        new RegExp(
          `meridian_edge_security_actions_total\\{zone="${zoneId}",phase="http_request_firewall_custom",rule="watch-bots",action="log",mode="log"\\} [1-9]`,
        ),
      );
      assert.match(metrics, new RegExp(`rule="trial",action="block",mode="log"\\} [1-9]`));
      assert.match(metrics, new RegExp(`rule="no-admin",action="block",mode="enforce"\\} [1-9]`));
    });
    it('js_challenge: a page that curl cannot pass; solving the work earns a cookie that passes', async () => {
      const page = await get(a, '/check');
      assert.equal(page.status, 403);
      assert.equal(page.headers['meridian-mitigated'], 'challenge');
      const html = page.body.toString();
      const params = JSON.parse(/const p = (\{.*?\});/.exec(html)?.[1] ?? '{}') as {
        c: string;
        d: number;
        r: string;
      };
      assert.equal(params.r, '/check');
      // A wrong nonce is refused.
      const wrong = await get(a, `/.meridian/challenge?c=${encodeURIComponent(params.c)}&n=zz&r=/check`);
      assert.equal(wrong.status, 403);
      const nonce = solve(params.c, params.d);
      const answer = await get(
        a,
        `/.meridian/challenge?c=${encodeURIComponent(params.c)}&n=${nonce}&r=/check`,
      );
      assert.equal(answer.status, 302);
      assert.equal(answer.headers.location, '/check');
      const cookie = String(answer.headers['set-cookie']).split(';')[0] as string;
      assert.equal((await get(a, '/check', { cookie })).status, 200);
      // The cookie is signed with the cluster's key: the PoP's other node honours it too.
      assert.equal((await get(b, '/check', { cookie })).status, 200);
      // Tampered, or for another client address: refused.
      assert.equal(
        (await get(a, '/check', { cookie: cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) })).status,
        403,
      );
    });
  });

  describe('managed rules', () => {
    before(() =>
      put('http_request_firewall_managed', [
        {
          id: 'uploads-exception',
          expression: 'http.request.uri.path eq "/cms/save"',
          action: 'skip',
          action_parameters: { rules: { meridian_managed: ['mr-xss-script', 'mr-xss-tags'] } },
        },
        {
          id: 'run-managed',
          expression: 'true',
          action: 'execute',
          action_parameters: {
            id: 'meridian_managed',
            overrides: { paranoia_level: 1, rules: [{ id: 'mr-scanner-ua', action: 'log' }] },
          },
        },
      ]),
    );
    it('blocks SQLi, XSS, traversal, RCE after normalisation; benign requests pass', async () => {
      for (const attack of [
        "/item?id=1'%20or%20'1'%3D'1",
        '/q?x=%253Cscript%253Ealert(1)%253C%252Fscript%253E',
        '/file?name=..%2F..%2F..%2Fetc%2Fpasswd',
        '/ping?host=127.0.0.1;cat%20/etc/passwd',
        '/api?q=%24%7Bjndi%3Aldap%3A%2F%2Fx%2Fa%7D',
      ]) {
        const r = await get(a, attack);
        assert.equal(r.status, 403, attack);
        assert.match(r.body.toString(), /blocked by rule mr-/);
      }
      for (const ok of [
        "/search?q=O'Reilly+books",
        '/search?q=select+a+gift+from+our+catalogue',
        '/blog/rock-%26-roll',
      ]) {
        assert.equal((await get(a, ok)).status, 200, ok);
      }
    });
    it('a per-rule exception and an action override', async () => {
      assert.equal((await get(a, '/cms/save?body=%3Cscript%3Ex%3C/script%3E')).status, 200);
      assert.equal((await get(a, '/cms/other?body=%3Cscript%3Ex%3C/script%3E')).status, 403);
      assert.equal((await get(a, '/', { 'user-agent': 'sqlmap/1.7' })).status, 200);
    });
  });

  describe('rate limits', () => {
    it('exact under concurrency on one node (counting: node)', async () => {
      await put('http_ratelimit', [
        {
          id: 'rl-node',
          expression: 'http.request.uri.path eq "/rl-node"',
          action: 'block',
          ratelimit: { characteristics: ['ip.src'], period: 3600, requests_per_period: 10, counting: 'node' },
        },
      ]);
      const replies = await Promise.all(Array.from({ length: 30 }, () => get(a, '/rl-node')));
      assert.equal(replies.filter((r) => r.status === 200).length, 10);
      const limited = replies.filter((r) => r.status === 429);
      assert.equal(limited.length, 20);
      assert.ok(Number(limited[0]?.headers['retry-after']) > 0);
      // Counting on the node: the other node has its own 10.
      const other = await Promise.all(Array.from({ length: 12 }, () => get(b, '/rl-node')));
      assert.equal(other.filter((r) => r.status === 200).length, 10);
    });
    it('exact across two nodes of the PoP through Redis, with a mitigation timeout', async () => {
      await put('http_ratelimit', [
        {
          id: 'rl-pop',
          expression: 'http.request.uri.path eq "/rl-pop"',
          action: 'block',
          ratelimit: {
            characteristics: ['ip.src', 'http.host'],
            period: 3600,
            requests_per_period: 10,
            mitigation_timeout: 120,
          },
        },
      ]);
      const replies = await Promise.all(
        Array.from({ length: 40 }, (_, i) => get(i % 2 === 0 ? a : b, '/rl-pop')),
      );
      assert.equal(replies.filter((r) => r.status === 200).length, 10);
      const limited = replies.filter((r) => r.status === 429);
      assert.equal(limited.length, 30);
      assert.ok(
        limited.every(
          (r) => Number(r.headers['retry-after']) > 100 && Number(r.headers['retry-after']) <= 120,
        ),
      );
    });
  });

  describe('a real browser passes the challenge, curl does not', () => {
    before(() =>
      put('http_request_firewall_custom', [
        {
          id: 'browser-check',
          expression: 'http.request.uri.path eq "/browser"',
          action: 'managed_challenge',
        },
      ]),
    );
    it('chromium (Playwright) runs the proof of work and lands on the page with a clearance cookie', async () => {
      const browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
          `--host-resolver-rules=MAP ${HOST} 127.0.0.1`,
        ],
      });
      try {
        const page = await browser.newPage();
        const first = await page.goto(`http://${HOST}:${a.port}/browser`, { waitUntil: 'commit' });
        assert.equal(first?.status(), 403);
        // The script works, comes back to /.meridian/challenge, and is redirected to /browser.
        const deadline = Date.now() + 30_000;
        while (!(await page.context().cookies()).some((c) => c.name === 'mrd_clearance' && c.httpOnly)) {
          if (Date.now() > deadline) assert.fail(`no clearance cookie: ${await page.content()}`);
          await sleep(50);
        }
        // The test origin answers application/octet-stream (the browser would download it): the
        // browser's cookie, sent from here (the same client address), passes.
        const clearance = (await page.context().cookies()).find((c) => c.name === 'mrd_clearance');
        const again = await get(a, '/browser', { cookie: `mrd_clearance=${clearance?.value ?? ''}` });
        assert.equal(again.status, 200);
      } finally {
        await browser.close();
      }
    });
    it('curl, following redirects, stays on the challenge page', async () => {
      const { stdout } = await execFileP('curl', [
        '-s',
        '-L',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-H',
        `Host: ${HOST}`,
        `${a.url}/browser`,
      ]);
      assert.equal(stdout, '403');
    });
  });

  describe('under attack mode', () => {
    it('challenges every new client; a solved challenge passes', async () => {
      const res = await zone('PUT', '/security/settings', { under_attack: true, challenge_difficulty: 8 });
      assert.equal(res.status, 200, JSON.stringify(res.body.errors));
      const deadline = Date.now() + 10_000;
      let page = await get(a, '/anything');
      while (page.status !== 403) {
        if (Date.now() > deadline) assert.fail('under attack mode did not reach the node');
        await sleep(20);
        page = await get(a, '/anything');
      }
      const params = JSON.parse(/const p = (\{.*?\});/.exec(page.body.toString())?.[1] ?? '{}') as {
        c: string;
        d: number;
      };
      assert.equal(params.d, 8);
      const answer = await get(
        a,
        `/.meridian/challenge?c=${encodeURIComponent(params.c)}&n=${solve(params.c, params.d)}&r=/anything`,
      );
      const cookie = String(answer.headers['set-cookie']).split(';')[0] as string;
      assert.equal((await get(a, '/anything', { cookie })).status, 200);
      await zone('PUT', '/security/settings', { under_attack: false });
    });
  });

  describe('meridian waf', () => {
    const waf = async (...args: string[]): Promise<string> =>
      (
        await execFileP(process.execPath, [
          CLI,
          'waf',
          ...args,
          '--zone',
          zoneId,
          '--api',
          control.url,
          '--token',
          control.adminToken,
        ])
      ).stdout;
    it('adds, lists and deletes rules; turns managed rules and under attack mode on and off', async () => {
      assert.match(
        await waf(
          'add',
          '--phase',
          'ratelimit',
          '--id',
          'cli-rl',
          '--expression',
          'http.request.uri.path eq "/cli"',
          '--requests',
          '5',
          '--period',
          '1m',
        ),
        /added rule cli-rl to http_ratelimit/,
      );
      const listed = JSON.parse(await waf('list', '--phase', 'ratelimit', '--json')) as Record<
        string,
        { id: string; ratelimit: { period: number } }[]
      >;
      assert.equal(listed.http_ratelimit?.find((r) => r.id === 'cli-rl')?.ratelimit.period, 60);
      assert.match(await waf('delete', '--phase', 'ratelimit', 'cli-rl'), /deleted rule cli-rl/);
      assert.match(await waf('managed', '--paranoia', '2', '--except', 'mr-proto-no-ua'), /paranoia 2/);
      const managed = (await zone('GET', PHASE('http_request_firewall_managed'))).body.result.rules as {
        action: string;
      }[];
      assert.deepEqual(
        managed.map((r) => r.action),
        ['skip', 'execute'],
      );
      assert.match(await waf('managed', '--off'), /off/);
      assert.match(await waf('under-attack', 'on'), /on/);
      assert.equal((await zone('GET', '/security/settings')).body.result.under_attack, true);
      await waf('under-attack', 'off');
      await assert.rejects(waf('add', '--expression', 'http.host eq', '--action', 'block'), /at position 12/);
    });
  });
});

/** What the challenge page's script does: the first base-36 counter whose hash has `bits` leading zeros. */
function solve(challenge: string, bits: number): string {
  for (let i = 0; ; i++) {
    const digest = createHash('sha256')
      .update(`${challenge}:${i.toString(36)}`)
      .digest();
    let zeros = 0;
    for (const byte of digest) {
      if (byte === 0) {
        zeros += 8;
        continue;
      }
      zeros += Math.clz32(byte) - 24;
      break;
    }
    if (zeros >= bits) return i.toString(36);
  }
}
