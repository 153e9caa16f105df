// The meridian command: dispatches to a verb.
import { ApiCallError } from './api-client.ts';
import { UsageError } from './args.ts';

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
  tokens    create, list, delete API tokens
  certs     upload, list, delete a zone's TLS certificates (or order them over ACME)
  pops      list, get, put, delete PoPs
  nodes     list the nodes registered with the control plane
  audit     read the audit log
  waf       firewall rules, rate limits, managed rules, under attack mode (edge security)

Run "meridian <command> --help" for a command's options.
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
  waf: async () => (await import('./commands/waf.ts')).runWaf,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP);
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
    throw err;
  }
}

const code = await main(process.argv.slice(2));
if (code !== 0) process.exit(code);
