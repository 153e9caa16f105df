// The meridian command: dispatches to a verb.
import { ApiCallError } from './api-client.ts';
import { UsageError } from './args.ts';
import { runControl } from './commands/control.ts';
import { runDemo } from './commands/demo.ts';
import { runDns } from './commands/dns.ts';
import { runEdge } from './commands/edge.ts';
import { runPurge } from './commands/purge.ts';
import { runRules } from './commands/rules.ts';
import { runTokens } from './commands/tokens.ts';
import { runUp } from './commands/up.ts';
import { runZones } from './commands/zones.ts';

const HELP = `meridian — a CDN you run yourself

Usage:
  meridian <command> [options]

Commands:
  up        a whole CDN on loopback: control plane, PoPs, shield, DNS, demo origin
  demo      a demo origin and an edge node in front of it, on loopback (the quickstart)
  edge      run an edge node (standalone: --origin URL; managed: --control URL)
  control   run the control plane (REST API, state, event log)
  dns       run the authoritative GeoDNS server for the CDN's zone
  zones     create, list, get, delete zones
  rules     list, add, delete a zone's cache rules
  purge     purge cached content by URL, prefix, host, tag or everything, on every node
  tokens    create, list, delete API tokens

Run "meridian <command> --help" for a command's options.
`;

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  up: runUp,
  demo: runDemo,
  edge: runEdge,
  control: runControl,
  dns: runDns,
  zones: runZones,
  rules: runRules,
  purge: runPurge,
  tokens: runTokens,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const run = COMMANDS[command];
  if (run === undefined) {
    process.stderr.write(`meridian: unknown command "${command}"\n\n${HELP}`);
    return 2;
  }
  try {
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
