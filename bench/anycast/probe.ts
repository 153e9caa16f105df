// The client side of bench/anycast/convergence.ts, run inside a region's client namespace:
// a new connection to URL every --every ms (each with a 300 ms timeout), one line per answer:
// "<unix ms> <node that answered>" or "<unix ms> error". Stops when stdin closes.
import { request } from 'node:http';

const [url, host, everyArg] = process.argv.slice(2) as [string, string, string];
const everyMs = Number(everyArg ?? '20');
let running = true;
process.stdin.on('end', () => (running = false));
process.stdin.resume();

function once(): Promise<string> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, headers: { host }, timeout: 300 }, (res) => {
      res.resume();
      res.on('end', () => {
        const status = String(res.headers['cache-status'] ?? '');
        resolve(
          res.statusCode === 200 ? (status.split(',').at(-1)?.trim().split(';')[0] ?? 'error') : 'error',
        );
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve('error'));
    req.end();
  });
}

while (running) {
  const started = Date.now();
  const node = await once();
  process.stdout.write(`${Date.now()} ${node}\n`);
  await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - started))));
}
