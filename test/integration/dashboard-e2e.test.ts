// Issue 15 end to end, through `meridian up`: a known workload (N requests, H of them hits of the
// answering node's cache, B body bytes) appears in the analytics API exactly; then the dashboard in
// a real browser (playwright-core driving Debian's chromium): sign in with the printed URL's token,
// the charts fill, a purge from the form ticks every node to complete, a rule added in the editor
// reaches a node. MERIDIAN_UPDATE_SCREENSHOTS=1 copies the screenshots to docs/screenshots/.
import assert from 'node:assert/strict';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { api, fetchReply } from '../helpers/processes.ts';
import { startUp, type UpRun } from '../helpers/up.ts';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(250);
  }
}

describe('analytics and dashboard through meridian up', () => {
  let run: UpRun;
  let browser: Browser;
  let page: Page;
  const shots: string[] = [];
  const sent = { requests: 0, hits: 0, bytes: 0 };

  const edges = () => run.cluster.pops.flatMap((p) => p.nodes);
  const admin = (method: string, path: string, body?: unknown) =>
    api(run.cluster.control.url, run.cluster.control.token, method, path, body);
  const shot = async (name: string): Promise<void> => {
    const file = join(run.dir, `${name}.png`);
    await page.screenshot({ path: file, fullPage: name !== 'phone' });
    shots.push(file);
  };

  before(async () => {
    run = await startUp(['--pops', 'nyc,fra', '--nodes', '2', '--shield', 'none'], 90_000);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    if (process.env.MERIDIAN_UPDATE_SCREENSHOTS === '1') {
      await mkdir('docs/screenshots', { recursive: true });
      for (const file of shots)
        await copyFile(file, join('docs/screenshots', file.split('/').pop() as string));
    }
    await run?.cleanup();
  });

  it('a known workload appears in the API exactly', async () => {
    const paths = ['/static/app.js', '/static/style.css', '/api/time', '/nope'];
    for (const node of edges()) {
      for (let i = 0; i < 6; i++) {
        const reply = await fetchReply(`${node.url}${paths[i % paths.length]}`, {
          headers: { host: run.cluster.zone.hostname },
        });
        sent.requests++;
        sent.bytes += reply.body.length;
        // The answering node's own Cache-Status entry is the last one; the one before it is the PoP
        // owner's when the node forwarded the miss: its hit counts as cached too (upstream-hit).
        const entries = String(reply.headers['cache-status']).split(',');
        if (/;\s*hit\s*(;|$)/.test(entries.at(-1) ?? '') || /;\s*hit\s*(;|$)/.test(entries.at(-2) ?? ''))
          sent.hits++;
      }
    }
    assert.ok(sent.hits > 0, 'the workload has hits');
    const zoneId = run.cluster.zone.id;
    const totals = await until('the workload in the API', 20_000, async () => {
      const r = await admin('GET', `/client/v4/zones/${zoneId}/analytics/dashboard?since=-30`);
      return r.body.result.totals.requests.all === sent.requests ? r.body.result.totals : undefined;
    });
    assert.equal(totals.requests.all, sent.requests);
    assert.equal(totals.requests.cached, sent.hits);
    assert.equal(totals.bandwidth.all, sent.bytes);
    assert.equal(totals.requests.http_status['404'], 4);
    assert.equal(totals.nodes.length, 4);
    assert.ok(totals.nodes.every((n: { requests: number }) => n.requests === 6));
  });

  it('signs in, and the charts and tables fill after traffic', async () => {
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const { url, token } = run.cluster.control;
    // Signing in by hand first: the form keeps the token in sessionStorage.
    await page.goto(`${url}/dashboard/`);
    await page.fill('#token', 'mrd_wrong');
    await page.click('#signin-form button');
    await page.waitForSelector('#signin-error:has-text("Sign-in failed")');
    await page.fill('#token', token);
    await page.click('#signin-form button');
    await page.waitForSelector(`#figures[data-requests="${sent.requests}"]`, { timeout: 20_000 });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('meridian.token')), token);
    // Charts drew their series; the tables have the status codes and paths.
    await page.waitForSelector('#chart-requests .uplot canvas');
    assert.match((await page.textContent('#status')) ?? '', /404/);
    assert.match((await page.textContent('#paths')) ?? '', /\/static\/app\.js/);
    assert.equal(await page.locator('#map .pop').count(), 2);
    assert.match((await page.textContent('#nodes')) ?? '', /nyc-1.*up/s);
    // More traffic shows up live, without a reload.
    for (const node of edges())
      await fetchReply(`${node.url}/static/app.js`, { headers: { host: run.cluster.zone.hostname } });
    sent.requests += edges().length;
    await page.waitForSelector(`#figures[data-requests="${sent.requests}"]`, { timeout: 20_000 });
    await shot('dashboard');
  });

  it('purges from the form and shows every node ticking to complete', async () => {
    await page.selectOption('#purge-kind', 'purge_everything');
    await page.click('#purge-form button');
    await page.waitForSelector('#purge-progress [data-complete="true"]', { timeout: 20_000 });
    const chips = await page.locator('#purge-progress .chip.applied').count();
    assert.equal(chips, 4);
    assert.match((await page.textContent('#purge-progress')) ?? '', /4\/4 nodes applied/);
    await shot('purge');
  });

  it('a rule added in the editor reaches a node', async () => {
    const rule = { description: 'e2e', match: { path: '/static/*' }, action: { browser_ttl: 123 } };
    await page.fill('#rule', JSON.stringify(rule));
    await page.click('#rule-form button');
    await page.waitForSelector('#rules :text("e2e")');
    const node = edges()[0] as { url: string };
    const reply = await until('the rule on a node', 15_000, async () => {
      const r = await fetchReply(`${node.url}/static/app.js`, {
        headers: { host: run.cluster.zone.hostname },
      });
      return r.headers['cache-control'] === 'max-age=123' ? r : undefined;
    });
    assert.equal(reply.status, 200);
    // The propagation table shows the change applied by every node.
    await page.waitForSelector('#history :text("rules.replace")', { timeout: 15_000 });
    const row = page.locator('#history tr', { hasText: 'rules.replace' }).first();
    await until('rules.replace applied by 4/4', 15_000, async () =>
      (await row.locator('td').nth(3).textContent()) === '4/4' ? true : undefined,
    );
    await shot('rules');
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
    await phone.goto(
      `${run.cluster.control.url}/dashboard/#token=${encodeURIComponent(run.cluster.control.token)}`,
    );
    await phone.waitForSelector('#figures .figure');
    assert.equal(new URL(phone.url()).hash, '', 'the token leaves the address bar');
    page = phone;
    await shot('phone');
  });
});
