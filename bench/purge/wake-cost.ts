// The CPU a Node process spends to be woken by one line on a long-lived HTTP stream, the way a node
// receives each control-plane event: the floor under every node's share of a purge's fan-out.
//   node bench/purge/wake-cost.ts [--lines 300] [--interval-ms 20]
// A child process serves NDJSON (one purge-sized line every --interval-ms); this process reads it
// with node:http and with undici, parses each line, and prints its own CPU (user + system) per line,
// after 20 lines of warm-up.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { request } from 'undici';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '300' },
    'interval-ms': { type: 'string', default: '20' },
    serve: { type: 'boolean', default: false },
  },
});
const LINES = Number(values.lines);
const INTERVAL_MS = Number(values['interval-ms']);
const WARMUP = 20;

if (values.serve) {
  const line = `${JSON.stringify({
    seq: 1,
    at: new Date().toISOString(),
    type: 'purge',
    purge: {
      id: 'p'.repeat(32),
      zone_id: 'z'.repeat(32),
      files: Array.from({ length: 20 }, (_, i) => `http://bench.test/purge-bench/n${i}-0?cc=max-age%3D3600`),
      soft: false,
    },
  })}\n`;
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.flushHeaders();
    const timer = setInterval(() => res.write(line), INTERVAL_MS);
    res.on('close', () => clearInterval(timer));
  });
  server.listen(0, '127.0.0.1', () => process.send?.((server.address() as AddressInfo).port));
} else {
  const child = fork(new URL(import.meta.url).pathname, ['--serve', '--interval-ms', String(INTERVAL_MS)]);
  const [port] = (await once(child, 'message')) as [number];
  const url = `http://127.0.0.1:${port}/`;

  /** Feeds chunks; resolves with the CPU µs per line once LINES lines after the warm-up are read. */
  const counter = (done: (usPerLine: number) => void) => {
    let buffered = '';
    let seen = 0;
    let start = process.cpuUsage();
    return (chunk: string): void => {
      buffered += chunk;
      for (let end = buffered.indexOf('\n'); end !== -1; end = buffered.indexOf('\n')) {
        JSON.parse(buffered.slice(0, end));
        buffered = buffered.slice(end + 1);
        seen += 1;
        if (seen === WARMUP) start = process.cpuUsage();
        if (seen === WARMUP + LINES) {
          const used = process.cpuUsage(start);
          done((used.user + used.system) / LINES);
        }
      }
    };
  };

  const viaNodeHttp = (): Promise<number> =>
    new Promise((resolve) => {
      const req = get(url, (res) => {
        res.setEncoding('utf8');
        res.on(
          'data',
          counter((us) => {
            req.destroy();
            resolve(us);
          }),
        );
      });
    });

  const viaUndici = async (): Promise<number> => {
    const controller = new AbortController();
    const res = await request(url, { signal: controller.signal });
    let result = NaN;
    const feed = counter((us) => {
      result = us;
      controller.abort();
    });
    try {
      for await (const chunk of res.body) feed((chunk as Buffer).toString());
    } catch {
      // aborted once enough lines were read
    }
    return result;
  };

  const rows: string[] = [];
  for (const [name, run] of [
    ['node:http', viaNodeHttp],
    ['undici', viaUndici],
    ['node:http', viaNodeHttp],
    ['undici', viaUndici],
  ] as const) {
    rows.push(`| ${name} | ${LINES} | ${INTERVAL_MS} | ${(await run()).toFixed(0)} |`);
  }
  child.kill();
  process.stdout.write(
    `| client | lines | interval ms | CPU µs per line |\n|---|---|---|---|\n${rows.join('\n')}\n`,
  );
}
