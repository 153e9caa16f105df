// Rendering helpers for the dashboard: tables, figures, the PoP map. Every value goes in as text
// (textContent), never as HTML: paths, user agents and referrers come from clients.

/** An element with attributes and children (strings become text nodes). */
export function el(tag, attrs = {}, ...children) {
  const ns = ['svg', 'circle', 'text', 'path', 'g', 'line', 'title'].includes(tag)
    ? 'http://www.w3.org/2000/svg'
    : null;
  const node = ns === null ? document.createElement(tag) : document.createElementNS(ns, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null && v !== false) node.setAttribute(k, String(v));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child);
  }
  return node;
}

export function formatCount(n) {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

export function formatBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function formatMs(v) {
  return v === null || v === undefined ? '–' : v < 10 ? v.toFixed(2) : v.toFixed(0);
}

/** Replaces a table's rows: head is a list of column names (numeric ones start with '#'). */
export function fillTable(table, head, rows) {
  const numeric = head.map((h) => h.startsWith('#'));
  table.replaceChildren(
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        head.map((h, i) => el('th', { class: numeric[i] ? 'num' : null }, h.replace(/^#/, ''))),
      ),
    ),
    el(
      'tbody',
      {},
      rows.length === 0
        ? el('tr', {}, el('td', { colspan: head.length, class: 'status' }, 'nothing yet'))
        : rows.map((row) =>
            el(
              'tr',
              row.attrs ?? {},
              (row.cells ?? row).map((cell, i) => el('td', { class: numeric[i] ? 'num' : null }, cell)),
            ),
          ),
    ),
  );
}

/** A counts object as rows, largest first. */
export function countRows(counts, total) {
  return Object.entries(counts ?? {})
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => [k, formatCount(v), total > 0 ? `${((100 * v) / total).toFixed(1)}%` : '']);
}

export function figure(label, value) {
  return el(
    'div',
    { class: 'card figure' },
    el('div', { class: 'value' }, value),
    el('div', { class: 'label' }, label),
  );
}

// Coarse continent outlines (longitude, latitude): enough to place PoPs at a glance.
const LAND = [
  [
    [-168, 65],
    [-140, 70],
    [-95, 72],
    [-80, 63],
    [-60, 55],
    [-55, 47],
    [-70, 42],
    [-80, 32],
    [-81, 25],
    [-97, 26],
    [-97, 18],
    [-87, 15],
    [-80, 8],
    [-92, 15],
    [-105, 20],
    [-117, 32],
    [-124, 40],
    [-124, 48],
    [-135, 58],
    [-150, 60],
    [-165, 60],
  ],
  [
    [-80, 8],
    [-72, 12],
    [-60, 10],
    [-50, 0],
    [-35, -7],
    [-40, -22],
    [-48, -26],
    [-58, -35],
    [-65, -42],
    [-68, -55],
    [-75, -50],
    [-72, -35],
    [-70, -18],
    [-81, -5],
  ],
  [
    [-10, 36],
    [-9, 43],
    [-2, 44],
    [-5, 48],
    [2, 51],
    [8, 54],
    [10, 58],
    [5, 62],
    [15, 69],
    [28, 71],
    [45, 68],
    [70, 73],
    [100, 78],
    [140, 72],
    [170, 70],
    [180, 66],
    [160, 60],
    [142, 47],
    [130, 42],
    [122, 30],
    [120, 22],
    [108, 20],
    [105, 10],
    [100, 14],
    [98, 8],
    [92, 22],
    [80, 15],
    [77, 8],
    [72, 20],
    [66, 25],
    [57, 25],
    [50, 30],
    [48, 28],
    [56, 24],
    [52, 17],
    [43, 13],
    [35, 28],
    [35, 34],
    [28, 36],
    [24, 40],
    [20, 40],
    [15, 38],
    [12, 44],
    [8, 44],
    [3, 43],
    [-5, 36],
  ],
  [
    [-17, 21],
    [-10, 30],
    [-6, 35],
    [10, 37],
    [20, 32],
    [32, 31],
    [35, 28],
    [43, 12],
    [51, 12],
    [40, -2],
    [40, -15],
    [35, -25],
    [20, -35],
    [17, -30],
    [12, -15],
    [13, -5],
    [9, 4],
    [-8, 5],
    [-17, 14],
  ],
  [
    [114, -22],
    [122, -18],
    [130, -12],
    [137, -12],
    [142, -11],
    [146, -19],
    [153, -25],
    [150, -37],
    [140, -38],
    [131, -32],
    [115, -34],
  ],
  [
    [-50, 60],
    [-42, 60],
    [-20, 70],
    [-20, 80],
    [-60, 82],
    [-72, 78],
    [-55, 70],
  ],
  [
    [-5, 50],
    [1, 51],
    [0, 53],
    [-2, 56],
    [-5, 58],
    [-6, 55],
  ],
  [
    [130, 31],
    [140, 35],
    [142, 40],
    [141, 45],
    [138, 38],
  ],
];

/** Equirectangular: the 720 × 360 viewBox is the whole world. */
const project = (lon, lat) => [(lon + 180) * 2, (90 - lat) * 2];

/** The PoPs on the map, coloured by their nodes' health (all up, some down, all down). */
export function drawMap(svg, pops, nodes) {
  const grid = [];
  for (let lon = -150; lon <= 150; lon += 30)
    grid.push(el('line', { class: 'grid-line', x1: (lon + 180) * 2, y1: 0, x2: (lon + 180) * 2, y2: 360 }));
  for (let lat = -60; lat <= 60; lat += 30)
    grid.push(el('line', { class: 'grid-line', x1: 0, y1: (90 - lat) * 2, x2: 720, y2: (90 - lat) * 2 }));
  const land = LAND.map((poly) =>
    el('path', {
      class: 'land',
      d: `M${poly
        .map(([lon, lat]) =>
          project(lon, lat)
            .map((v) => v.toFixed(1))
            .join(','),
        )
        .join('L')}Z`,
    }),
  );
  const marks = pops.map((pop) => {
    const mine = nodes.filter((n) => n.pop === pop.name);
    const up = mine.filter((n) => n.status === 'up').length;
    const health = mine.length === 0 || up === 0 ? 'down' : up === mine.length ? 'up' : 'partial';
    const [x, y] = project(pop.longitude, pop.latitude);
    return el(
      'g',
      { class: `pop ${health}`, 'data-pop': pop.name },
      el('title', {}, `${pop.name} (${pop.city}): ${up}/${mine.length} nodes up`),
      el('circle', { cx: x.toFixed(1), cy: y.toFixed(1), r: pop.role === 'shield' ? 7 : 5 }),
      el('text', { x: (x + 8).toFixed(1), y: (y + 4).toFixed(1) }, `${pop.name} ${up}/${mine.length}`),
    );
  });
  svg.replaceChildren(...grid, ...land, ...marks);
}
