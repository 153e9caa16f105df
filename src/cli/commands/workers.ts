// meridian workers deploy|list|versions|rollback|delete|routes|route-add|route-delete|tail|dev
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { UsageError } from '../args.ts';
import { printTable } from '../table.ts';
import { API_CLIENT_OPTIONS, apiTarget, callApi, printJson, zoneIdOf } from '../api-client.ts';

export const WORKERS_HELP = `meridian workers — edge workers (ES modules in V8 isolates) of a zone

Usage:
  meridian workers deploy --zone ZONE NAME FILE [--var K=V]... [--secret K=V]... [--kv NAME=NAMESPACE_ID]...
                          [--route PATTERN]... [--fail-open]
  meridian workers list --zone ZONE
  meridian workers versions --zone ZONE NAME
  meridian workers rollback --zone ZONE NAME [--version N]
  meridian workers delete --zone ZONE NAME
  meridian workers routes --zone ZONE
  meridian workers route-add --zone ZONE PATTERN NAME [--fail-open]
  meridian workers route-delete --zone ZONE ROUTE_ID
  meridian workers tail --node-admin URL --zone ZONE NAME
  meridian workers dev FILE --origin URL [--listen HOST:PORT] [--var K=V]... [--kv NAME]...

FILE is one ES module: export default { async fetch(request, env, ctx) { ... } }. deploy uploads it
(compiled by the control plane: a syntax error names its line and column) with its bindings, then adds
each --route (PATTERN is host/path with an optional trailing *, e.g. shop.example/api/*).
tail prints a script's console lines on one node (its --admin-listen URL) as they happen.
dev runs FILE locally in front of --origin on every request (default --listen 127.0.0.1:8787), with
an in-memory KV namespace per --kv, and reloads it when the file changes.
Common options: --api URL, --token TOKEN (or MERIDIAN_API / MERIDIAN_TOKEN), --json.
`;

interface ScriptMeta {
  name: string;
  version: number;
  etag: string;
  size: number;
  created_at: string;
  bindings: { type: string; name: string }[];
}

export async function runWorkers(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      ...API_CLIENT_OPTIONS,
      zone: { type: 'string' },
      var: { type: 'string', multiple: true },
      secret: { type: 'string', multiple: true },
      kv: { type: 'string', multiple: true },
      route: { type: 'string', multiple: true },
      'fail-open': { type: 'boolean', default: false },
      version: { type: 'string' },
      'node-admin': { type: 'string' },
      origin: { type: 'string' },
      listen: { type: 'string' },
    },
  });
  if (verb === undefined || values.help || verb === 'help' || verb === '--help' || verb === '-h') {
    process.stdout.write(WORKERS_HELP);
    return;
  }
  if (verb === 'dev') {
    const { runWorkersDev } = await import('./workers-dev.ts');
    return runWorkersDev(positionals, values);
  }
  if (values.zone === undefined) throw new UsageError('--zone: required');
  const bindings = verb === 'deploy' ? bindingsOf(values) : [];
  const target = apiTarget(values);
  const zoneId = await zoneIdOf(target, values.zone);
  const scripts = `/client/v4/zones/${zoneId}/workers/scripts`;
  const nameArg = (): string => {
    const name = positionals[0];
    if (name === undefined) throw new UsageError(`workers ${verb}: NAME is required`);
    return name;
  };
  switch (verb) {
    case 'deploy': {
      const name = nameArg();
      const file = positionals[1];
      if (file === undefined) throw new UsageError('workers deploy: FILE is required');
      const script = await readFile(file, 'utf8').catch((err: Error) => {
        throw new UsageError(`${file}: ${err.message}`);
      });
      const res = await callApi<ScriptMeta>(target, 'PUT', `${scripts}/${name}`, { script, bindings });
      for (const pattern of values.route ?? []) {
        await callApi(target, 'POST', `/client/v4/zones/${zoneId}/workers/routes`, {
          pattern,
          script: name,
          fail_open: values['fail-open'],
        });
      }
      if (values.json) printJson(res.result);
      else
        process.stdout.write(`deployed ${name} version ${res.result.version} (${res.result.size} bytes)\n`);
      return;
    }
    case 'list':
    case 'versions': {
      const path = verb === 'list' ? scripts : `${scripts}/${nameArg()}/versions`;
      const res = await callApi<ScriptMeta[]>(target, 'GET', path);
      if (values.json) printJson(res.result);
      else
        printTable(
          ['NAME', 'VERSION', 'SIZE', 'BINDINGS', 'CREATED'],
          res.result.map((s) => [
            s.name,
            String(s.version),
            String(s.size),
            s.bindings.map((b) => `${b.name}:${b.type}`).join(','),
            s.created_at,
          ]),
        );
      return;
    }
    case 'rollback': {
      const body = values.version === undefined ? {} : { version: Number(values.version) };
      const res = await callApi<ScriptMeta>(target, 'POST', `${scripts}/${nameArg()}/rollback`, body);
      if (values.json) printJson(res.result);
      else process.stdout.write(`${res.result.name} is at version ${res.result.version}\n`);
      return;
    }
    case 'delete': {
      const name = nameArg();
      await callApi(target, 'DELETE', `${scripts}/${name}`);
      process.stdout.write(`deleted ${name}\n`);
      return;
    }
    case 'routes': {
      const res = await callApi<{ id: string; pattern: string; script: string; fail_open: boolean }[]>(
        target,
        'GET',
        `/client/v4/zones/${zoneId}/workers/routes`,
      );
      if (values.json) printJson(res.result);
      else
        printTable(
          ['ID', 'PATTERN', 'SCRIPT', 'FAIL_OPEN'],
          res.result.map((r) => [r.id, r.pattern, r.script, String(r.fail_open)]),
        );
      return;
    }
    case 'route-add': {
      const [pattern, script] = positionals;
      if (pattern === undefined || script === undefined)
        throw new UsageError('workers route-add: PATTERN and NAME are required');
      const res = await callApi<{ id: string }>(target, 'POST', `/client/v4/zones/${zoneId}/workers/routes`, {
        pattern,
        script,
        fail_open: values['fail-open'],
      });
      if (values.json) printJson(res.result);
      else process.stdout.write(`added route ${res.result.id}\n`);
      return;
    }
    case 'route-delete': {
      const id = positionals[0];
      if (id === undefined) throw new UsageError('workers route-delete: ROUTE_ID is required');
      await callApi(target, 'DELETE', `/client/v4/zones/${zoneId}/workers/routes/${id}`);
      process.stdout.write(`deleted route ${id}\n`);
      return;
    }
    case 'tail':
      return tail(values['node-admin'], zoneId, nameArg());
    default:
      throw new UsageError(
        `workers: unknown verb "${verb}" (deploy, list, versions, rollback, delete, routes, route-add, route-delete, tail, dev)`,
      );
  }
}

/** --var/--secret K=V and --kv NAME=NAMESPACE_ID as the API's bindings. */
function bindingsOf(values: {
  var?: string[] | undefined;
  secret?: string[] | undefined;
  kv?: string[] | undefined;
}): unknown[] {
  const pairs = (flag: string, list: string[] | undefined): [string, string][] =>
    (list ?? []).map((item) => {
      const eq = item.indexOf('=');
      if (eq <= 0) throw new UsageError(`--${flag}: expected NAME=VALUE, got "${item}"`);
      return [item.slice(0, eq), item.slice(eq + 1)];
    });
  return [
    ...pairs('var', values.var).map(([name, text]) => ({ type: 'plain_text', name, text })),
    ...pairs('secret', values.secret).map(([name, text]) => ({ type: 'secret_text', name, text })),
    ...pairs('kv', values.kv).map(([name, id]) => ({ type: 'kv_namespace', name, namespace_id: id })),
  ];
}

/** Streams a node's /workers/tail NDJSON for one script until interrupted. */
async function tail(adminUrl: string | undefined, zoneId: string, name: string): Promise<void> {
  if (adminUrl === undefined) throw new UsageError("--node-admin: required (the node's --admin-listen URL)");
  const url = new URL('/workers/tail', adminUrl);
  url.searchParams.set('zone_id', zoneId);
  url.searchParams.set('script', name);
  const res = await request(url, { headersTimeout: 30_000, bodyTimeout: 0 });
  if (res.statusCode !== 200)
    throw new UsageError(`${url.origin}: HTTP ${res.statusCode} ${await res.body.text()}`);
  process.stderr.write(`tailing ${name} on ${url.origin} (Ctrl-C to stop)\n`);
  let buffered = '';
  for await (const chunk of res.body) {
    buffered += (chunk as Buffer).toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line === '') continue;
      const entry = JSON.parse(line) as { at: string; level: string; message: string };
      process.stdout.write(`${entry.at} ${entry.level.padEnd(5)} ${entry.message}\n`);
    }
  }
}
