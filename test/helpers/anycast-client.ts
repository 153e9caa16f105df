// A client inside a lab namespace (run with `ip netns exec <ns> node anycast-client.ts URL HOST`):
// for each line on stdin ("same" or "new") it makes one GET over its one kept-alive connection or
// over a new connection, and prints one JSON line {ok, status, node, reused} per request.
import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';

const [url, host] = process.argv.slice(2) as [string, string];
let kept = new Agent({ keepAlive: true, maxSockets: 1 });

function get(agent: Agent): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const req = request(url, { agent, headers: { host }, timeout: 2_000 }, (res) => {
      res.resume();
      res.on('end', () => {
        const status = String(res.headers['cache-status'] ?? '');
        // The last cache in Cache-Status is the node that answered the client.
        const node = status.split(',').at(-1)?.trim().split(';')[0] ?? null;
        resolve({ ok: true, status: res.statusCode, node, reused: req.reusedSocket });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ ok: false, error: err.message }));
    req.end();
  });
}

for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'new') {
    const once = new Agent({ keepAlive: false });
    process.stdout.write(`${JSON.stringify(await get(once))}\n`);
    once.destroy();
  } else {
    const reply = await get(kept);
    if (reply.ok !== true) kept = new Agent({ keepAlive: true, maxSockets: 1 });
    process.stdout.write(`${JSON.stringify(reply)}\n`);
  }
}
