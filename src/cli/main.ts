// The meridian command: dispatches to a verb.
import { ApiCallError } from './api-client.ts';
import { UsageError } from './args.ts';
import { explainStartFailure, StartFailure } from './start-failure.ts';
import { meridianVersion } from './version.ts';

const HELP = `meridian — a CDN you run yourself

Usage:
  meridian <command> [options]

Commands:
  up        a whole CDN on loopback: control plane, PoPs, shield, DNS, demo origin
  demo      a demo origin and an edge node in front of it, on loopback (the quickstart)
  edge      run an edge node (standalone: --origin URL; managed: --control URL)
  control   run the control plane (REST API, state, event log)
  dns       run the authoritative GeoDNS server for the CDN's zone
  zones     create, list, get, delete zones; show and change their settings
  rules     list, add, delete a zone's cache rules
  purge     purge cached content by URL, prefix, host, tag or everything, on every node
  prewarm   load URLs or an HLS playlist into the caches of chosen PoPs (progress per PoP)
  tokens    create, list, delete API tokens
  certs     upload, list, delete a zone's TLS certificates (or order them over ACME)
  pops      list, get, put, delete PoPs
  nodes     list the nodes registered with the control plane
  audit     read the audit log
  anycast   announce a PoP's anycast prefixes through BIRD (BGP) while the PoP is healthy
  workers   deploy, list, roll back, delete, tail a zone's edge workers; dev runs one locally
  kv        a zone's KV namespaces: create, put, get, delete, list keys
  analytics a zone's traffic over a time range (requests, cache, status, latency, top paths)
  tail      a zone's requests live, from every node
  waf       firewall rules, rate limits, managed rules, under attack mode (edge security)

Run "meridian <command> --help" for a command's options; "meridian --version" for the version.
`;

// Each verb's module is loaded only when that verb runs: an edge node then never loads the control
// plane (Fastify, Kysely, SQLite, PostgreSQL) or the DNS server, which would sit in every node's heap
// and lengthen every one of its garbage collections.
const COMMANDS: Record<string, () => Promise<(argv: string[]) => Promise<void>>> = {
  up: async () => (await import('./commands/up.ts')).runUp,
  demo: async () => (await import('./commands/demo.ts')).runDemo,
  edge: async () => (await import('./commands/edge.ts')).runEdge,
  control: async () => (await import('./commands/control.ts')).runControl,
  dns: async () => (await import('./commands/dns.ts')).runDns,
  zones: async () => (await import('./commands/zones.ts')).runZones,
  rules: async () => (await import('./commands/rules.ts')).runRules,
  purge: async () => (await import('./commands/purge.ts')).runPurge,
  tokens: async () => (await import('./commands/tokens.ts')).runTokens,
  certs: async () => (await import('./commands/certs.ts')).runCerts,
  pops: async () => (await import('./commands/pops.ts')).runPops,
  nodes: async () => (await import('./commands/pops.ts')).runNodes,
  audit: async () => (await import('./commands/audit.ts')).runAudit,
  anycast: async () => (await import('./commands/anycast.ts')).runAnycast,
  prewarm: async () => (await import('./commands/prewarm.ts')).runPrewarm,
  workers: async () => (await import('./commands/workers.ts')).runWorkers,
  kv: async () => (await import('./commands/kv.ts')).runKv,
  analytics: async () => (await import('./commands/analytics.ts')).runAnalytics,
  tail: async () => (await import('./commands/analytics.ts')).runTail,
  waf: async () => (await import('./commands/waf.ts')).runWaf,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (command === '--version' || command === '-V' || command === 'version') {
    process.stdout.write(`meridian ${meridianVersion()} (node ${process.versions.node})\n`);
    return 0;
  }
  const load = COMMANDS[command];
  if (load === undefined) {
    process.stderr.write(`meridian: unknown command "${command}"\n\n${HELP}`);
    return 2;
  }
  try {
    const run = await load();
    await run(rest);
    return 0;
  } catch (err) {
    if (err instanceof ApiCallError) {
      process.stderr.write(`meridian ${command}: ${err.message}\n`);
      return 1;
    }
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`meridian ${command}: ${(err as Error).message}\n`);
      return 2;
    }
    // A port in use, a database or NATS away: one line naming the flag (start-failure.ts).
    const line = err instanceof StartFailure ? err.message : explainStartFailure(err);
    if (line !== null) {
      process.stderr.write(`meridian ${command}: ${line}\n`);
      return 1;
    }
    if (process.env.MERIDIAN_DEBUG === '1' || !(err instanceof Error)) throw err;
    process.stderr.write(`meridian ${command}: ${err.message} (MERIDIAN_DEBUG=1 shows where)\n`);
    return 1;
  }
}

// `meridian zones list | head`: the reader went away. Like any Unix filter, stop quietly; the
// pipeline's status is the reader's. (Without this, the write's EPIPE is an uncaught stack trace.)
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

const code = await main(process.argv.slice(2));
if (code !== 0) process.exit(code);
