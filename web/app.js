// The Meridian dashboard: plain ES modules, the REST API with the signed-in token, uPlot for the
// charts. The token lives in sessionStorage only (gone when the tab closes). With "live" on, the
// figures refresh every 5 seconds without reloading the page.
import uPlot from './vendor/uplot.js';
import { countRows, drawMap, el, figure, fillTable, formatBytes, formatCount, formatMs } from './views.js';

const TOKEN_KEY = 'meridian.token';
const LIVE_MS = 5_000;
const $ = (id) => document.getElementById(id);

const state = { zones: [], zoneId: null, charts: {}, timer: null, purgeTimer: null, loaded: null };

class ApiError extends Error {}

async function call(method, path, body) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const res = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const envelope = await res.json().catch(() => null);
  if (res.status === 401) signOut('The token was refused (401). Sign in again.');
  if (envelope === null || !envelope.success) {
    throw new ApiError(envelope?.errors?.map((e) => e.message).join('; ') ?? `HTTP ${res.status}`);
  }
  return envelope.result;
}

// --- sign in -------------------------------------------------------------------------------------

function signOut(message = '') {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(state.timer);
  $('app').hidden = true;
  $('controls').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message;
}

async function signIn(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
  try {
    state.zones = (await call('GET', '/client/v4/zones?per_page=100')) ?? [];
  } catch (err) {
    signOut(`Sign-in failed: ${err.message}`);
    return;
  }
  $('signin').hidden = true;
  $('app').hidden = false;
  $('controls').hidden = false;
  $('zone').replaceChildren(...state.zones.map((z) => el('option', { value: z.id }, z.name)));
  state.zoneId = state.zones[0]?.id ?? null;
  await refresh();
  schedule();
}

function schedule() {
  clearInterval(state.timer);
  if ($('live').checked) state.timer = setInterval(() => void refresh(), LIVE_MS);
}

// --- figures and charts --------------------------------------------------------------------------

function chart(id, series, yFormat) {
  const target = $(id);
  const opts = {
    width: Math.max(280, target.clientWidth),
    height: 200,
    series: [
      {},
      ...series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: 2,
        fill: s.fill,
        // A bucket alone between empty ones (the first minute of traffic) still shows as a dot.
        points: { show: true, size: 4 },
        spanGaps: false,
        value: (_u, v) => (v === null ? '–' : yFormat(v)),
      })),
    ],
    axes: [{}, { values: (_u, ticks) => ticks.map(yFormat), size: 70 }],
    scales: { x: { time: true } },
  };
  const plot = new uPlot(opts, [[], ...series.map(() => [])], target);
  new ResizeObserver(() => plot.setSize({ width: Math.max(280, target.clientWidth), height: 200 })).observe(
    target,
  );
  return plot;
}

function ensureCharts() {
  if (state.charts.requests !== undefined) return;
  state.charts.requests = chart(
    'chart-requests',
    [
      { label: 'all', color: '#1f6feb', fill: 'rgba(31,111,235,0.08)' },
      { label: 'cached', color: '#1a7f37' },
    ],
    formatCount,
  );
  state.charts.bandwidth = chart(
    'chart-bandwidth',
    [
      { label: 'all', color: '#8250df', fill: 'rgba(130,80,223,0.08)' },
      { label: 'cached', color: '#1a7f37' },
    ],
    formatBytes,
  );
  state.charts.ratio = chart(
    'chart-ratio',
    [{ label: 'hit ratio', color: '#bf8700' }],
    (v) => `${v.toFixed(0)}%`,
  );
}

function renderDashboard(d) {
  const t = d.totals;
  const ratio = t.requests.all === 0 ? 0 : (100 * t.requests.cached) / t.requests.all;
  $('figures').replaceChildren(
    figure('requests', formatCount(t.requests.all)),
    figure('bandwidth', formatBytes(t.bandwidth.all)),
    figure('hit ratio', `${ratio.toFixed(1)}%`),
    figure('TTFB p50 / p99', `${formatMs(t.latency.ttfb_ms.p50)} / ${formatMs(t.latency.ttfb_ms.p99)} ms`),
  );
  $('figures').dataset.requests = String(t.requests.all);
  ensureCharts();
  const xs = d.timeseries.map((p) => Date.parse(p.since) / 1000);
  state.charts.requests.setData([
    xs,
    d.timeseries.map((p) => p.requests.all),
    d.timeseries.map((p) => p.requests.cached),
  ]);
  state.charts.bandwidth.setData([
    xs,
    d.timeseries.map((p) => p.bandwidth.all),
    d.timeseries.map((p) => p.bandwidth.cached),
  ]);
  state.charts.ratio.setData([
    xs,
    d.timeseries.map((p) => (p.requests.all === 0 ? null : (100 * p.requests.cached) / p.requests.all)),
  ]);
  fillTable($('status'), ['code', '#requests', '#share'], countRows(t.requests.http_status, t.requests.all));
  fillTable(
    $('cache'),
    ['status', '#requests', '#share'],
    countRows(t.requests.cache_status, t.requests.all),
  );
  fillTable(
    $('paths'),
    ['path', '#requests'],
    t.top.paths.map((p) => [p.value, formatCount(p.requests)]),
  );
  fillTable(
    $('countries'),
    ['country', '#requests', '#share'],
    countRows(t.requests.country, t.requests.all),
  );
  const lat = (name, s) => [name, formatMs(s.p50), formatMs(s.p90), formatMs(s.p99), formatCount(s.count)];
  fillTable(
    $('latency'),
    ['', '#p50', '#p90', '#p99', '#samples'],
    [lat('time to first byte', t.latency.ttfb_ms), lat('origin', t.latency.origin_ms)],
  );
  fillTable(
    $('node-traffic'),
    ['node', 'PoP', '#requests', '#cached', '#bandwidth'],
    t.nodes.map((n) => [
      n.node,
      n.pop,
      formatCount(n.requests),
      formatCount(n.cached),
      formatBytes(n.bandwidth),
    ]),
  );
}

function renderZones(glance) {
  fillTable(
    $('zones'),
    ['zone', '#requests', '#bandwidth'],
    glance.map((z) => ({
      attrs: { 'data-zone': z.id, class: z.id === state.zoneId ? 'selected' : null },
      cells: [z.name, formatCount(z.requests), formatBytes(z.bandwidth)],
    })),
  );
}

function renderTopology(pops, nodes) {
  drawMap($('map'), pops, nodes);
  fillTable(
    $('nodes'),
    ['node', 'PoP', 'status', '#applied seq', 'last heartbeat'],
    nodes.map((n) => [
      n.name,
      n.pop,
      el('span', { class: `chip ${n.status}` }, n.status),
      String(n.applied_seq),
      n.last_heartbeat_at ?? '–',
    ]),
  );
}

function renderHistory(h) {
  const rows = [
    ...h.purges.map((p) => ({ seq: p.seq, what: `purge ${Object.keys(p.request).join(', ')}`, ...p })),
    ...h.changes.map((c) => ({ what: c.type, ...c })),
  ].sort((a, b) => b.seq - a.seq);
  fillTable(
    $('history'),
    ['#seq', 'change', 'accepted', 'nodes', '#ms to last'],
    rows
      .slice(0, 15)
      .map((r) => [
        String(r.seq),
        r.what,
        r.accepted_at.slice(11, 19),
        `${r.nodes.filter((n) => n.state === 'applied').length}/${r.nodes.length}`,
        r.propagation_ms === null ? '–' : String(r.propagation_ms),
      ]),
  );
}

async function loadEditors() {
  if (state.loaded === state.zoneId) return;
  state.loaded = state.zoneId;
  const zone = await call('GET', `/client/v4/zones/${state.zoneId}`);
  $('settings').value = JSON.stringify(zone.settings, null, 2);
  await loadRules();
}

async function loadRules() {
  const rules = await call('GET', `/client/v4/zones/${state.zoneId}/rules`);
  fillTable(
    $('rules'),
    ['#', 'rule', ''],
    rules.map((r, i) => [
      String(i + 1),
      el(
        'code',
        {},
        `${r.description ? `${r.description}: ` : ''}${JSON.stringify(r.match)} → ${JSON.stringify(r.action)}`,
      ),
      el('button', { type: 'button', 'data-rule': r.id, class: 'delete-rule' }, 'Delete'),
    ]),
  );
}

async function refresh() {
  if (state.zoneId === null) return;
  const since = $('range').value;
  const zone = state.zoneId;
  const results = await Promise.allSettled([
    call('GET', `/client/v4/analytics/zones?since=${since}`),
    call('GET', `/client/v4/zones/${zone}/analytics/dashboard?since=${since}`),
    call('GET', '/client/v4/pops'),
    call('GET', '/client/v4/nodes'),
    call('GET', `/client/v4/zones/${zone}/analytics/history?limit=10`),
    call('GET', '/client/v4/audit?per_page=15'),
  ]);
  const [glance, dashboard, pops, nodes, history, audit] = results.map((r) =>
    r.status === 'fulfilled' ? r.value : null,
  );
  if (glance !== null) renderZones(glance);
  if (dashboard !== null) renderDashboard(dashboard);
  if (pops !== null && nodes !== null) renderTopology(pops, nodes);
  if (history !== null) renderHistory(history);
  if (audit !== null) {
    fillTable(
      $('audit'),
      ['at', 'token', 'action', 'resource'],
      audit.map((a) => [a.at.replace('T', ' ').slice(0, 19), a.token_name, a.action, a.resource_id ?? '–']),
    );
  }
  await loadEditors().catch(() => {});
}

// --- actions -------------------------------------------------------------------------------------

async function purge(event) {
  event.preventDefault();
  $('purge-error').textContent = '';
  const kind = $('purge-kind').value;
  const targets = $('purge-targets')
    .value.split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const body = kind === 'purge_everything' ? { purge_everything: true } : { [kind]: targets };
  let purged;
  try {
    purged = await call('POST', `/client/v4/zones/${state.zoneId}/purge_cache`, body);
  } catch (err) {
    $('purge-error').textContent = err.message;
    return;
  }
  clearInterval(state.purgeTimer);
  const poll = async () => {
    const s = await call('GET', `/client/v4/zones/${state.zoneId}/purge_cache/${purged.id}`);
    const chips = s.pops.flatMap((p) =>
      p.nodes.map((n) =>
        el('span', { class: `chip ${n.state}`, 'data-node': n.name }, `${n.name} ${n.state}`),
      ),
    );
    $('purge-progress').replaceChildren(
      el(
        'p',
        { class: 'status', 'data-complete': String(s.complete) },
        `${s.complete ? 'Complete' : 'In progress'}: ${s.nodes.applied}/${s.nodes.total} nodes applied`,
      ),
      el('div', {}, chips),
    );
    if (s.complete) clearInterval(state.purgeTimer);
  };
  await poll();
  state.purgeTimer = setInterval(() => void poll().catch(() => clearInterval(state.purgeTimer)), 400);
}

async function saveSettings(event) {
  event.preventDefault();
  try {
    const settings = JSON.parse($('settings').value);
    await call('PATCH', `/client/v4/zones/${state.zoneId}`, { settings });
    $('settings-status').textContent = `Saved at ${new Date().toLocaleTimeString()}.`;
  } catch (err) {
    $('settings-status').textContent = `Not saved: ${err.message}`;
  }
}

async function addRule(event) {
  event.preventDefault();
  try {
    await call('POST', `/client/v4/zones/${state.zoneId}/rules`, JSON.parse($('rule').value));
    $('rule-status').textContent =
      `Added at ${new Date().toLocaleTimeString()}; the nodes apply it through the event log.`;
    await loadRules();
    await refresh();
  } catch (err) {
    $('rule-status').textContent = `Not added: ${err.message}`;
  }
}

async function deleteRule(id) {
  try {
    await call('DELETE', `/client/v4/zones/${state.zoneId}/rules/${id}`);
    await loadRules();
  } catch (err) {
    $('rule-status').textContent = `Not deleted: ${err.message}`;
  }
}

function selectZone(id) {
  state.zoneId = id;
  $('zone').value = id;
  void refresh();
}

$('signin-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void signIn($('token').value.trim());
});
$('signout').addEventListener('click', () => signOut());
$('zone').addEventListener('change', () => selectZone($('zone').value));
$('range').addEventListener('change', () => void refresh());
$('live').addEventListener('change', schedule);
$('purge-form').addEventListener('submit', (e) => void purge(e));
$('settings-form').addEventListener('submit', (e) => void saveSettings(e));
$('rule-form').addEventListener('submit', (e) => void addRule(e));
$('rules').addEventListener('click', (e) => {
  const id = e.target?.dataset?.rule;
  if (id) void deleteRule(id);
});
$('zones').addEventListener('click', (e) => {
  const row = e.target?.closest?.('tr[data-zone]');
  if (row) selectZone(row.dataset.zone);
});

// `meridian up` prints /dashboard/#token=…: the fragment never reaches a server; it moves into
// sessionStorage and off the address bar at once.
if (location.hash.startsWith('#token=')) {
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(location.hash.slice('#token='.length)));
  history.replaceState(null, '', location.pathname);
}
const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved !== null) void signIn(saved);
