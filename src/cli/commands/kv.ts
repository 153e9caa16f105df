// meridian kv namespaces|create|delete-namespace|put|get|delete|keys
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { parseSeconds, UsageError } from '../args.ts';
import { printTable } from '../table.ts';
import { API_CLIENT_OPTIONS, ApiCallError, apiTarget, callApi, printJson, zoneIdOf } from '../api-client.ts';

export const KV_HELP = `meridian kv — a zone's KV namespaces (read by its workers on every node)

Usage:
  meridian kv namespaces --zone ZONE
  meridian kv create --zone ZONE TITLE
  meridian kv delete-namespace --zone ZONE NAMESPACE_ID
  meridian kv put --zone ZONE NAMESPACE_ID KEY (VALUE | --file PATH) [--ttl TTL] [--metadata JSON]
  meridian kv get --zone ZONE NAMESPACE_ID KEY
  meridian kv delete --zone ZONE NAMESPACE_ID KEY
  meridian kv keys --zone ZONE NAMESPACE_ID [--prefix P]

Writes go through the control plane and reach every node through the event log (docs/workers.md,
"KV consistency"). --ttl is at least 60 s (60, 90s, 5m, 1h, 1d).
Common options: --api URL, --token TOKEN (or MERIDIAN_API / MERIDIAN_TOKEN), --json.
`;

export async function runKv(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      ...API_CLIENT_OPTIONS,
      zone: { type: 'string' },
      file: { type: 'string' },
      ttl: { type: 'string' },
      metadata: { type: 'string' },
      prefix: { type: 'string' },
    },
  });
  if (verb === undefined || values.help || verb === 'help' || verb === '--help' || verb === '-h') {
    process.stdout.write(KV_HELP);
    return;
  }
  if (values.zone === undefined) throw new UsageError('--zone: required');
  const ttlSec = values.ttl === undefined ? null : parseSeconds('ttl', values.ttl);
  if (values.metadata !== undefined) {
    try {
      JSON.parse(values.metadata);
    } catch {
      throw new UsageError('--metadata: not valid JSON');
    }
  }
  const target = apiTarget(values);
  const zoneId = await zoneIdOf(target, values.zone);
  const base = `/client/v4/zones/${zoneId}/storage/kv/namespaces`;
  const arg = (i: number, what: string): string => {
    const v = positionals[i];
    if (v === undefined) throw new UsageError(`kv ${verb}: ${what} is required`);
    return v;
  };
  const valuePath = () => `${base}/${arg(0, 'NAMESPACE_ID')}/values/${encodeURIComponent(arg(1, 'KEY'))}`;
  switch (verb) {
    case 'namespaces': {
      const res = await callApi<{ id: string; title: string }[]>(target, 'GET', base);
      if (values.json) printJson(res.result);
      else
        printTable(
          ['ID', 'TITLE'],
          res.result.map((n) => [n.id, n.title]),
        );
      return;
    }
    case 'create': {
      const res = await callApi<{ id: string }>(target, 'POST', base, { title: arg(0, 'TITLE') });
      if (values.json) printJson(res.result);
      else process.stdout.write(`created namespace ${res.result.id}\n`);
      return;
    }
    case 'delete-namespace': {
      await callApi(target, 'DELETE', `${base}/${arg(0, 'NAMESPACE_ID')}`);
      process.stdout.write(`deleted namespace ${positionals[0]}\n`);
      return;
    }
    case 'put': {
      const body =
        values.file !== undefined ? await readFile(values.file) : Buffer.from(arg(2, 'VALUE (or --file)'));
      const query = new URLSearchParams();
      if (ttlSec !== null) query.set('expiration_ttl', String(ttlSec));
      if (values.metadata !== undefined) query.set('metadata', values.metadata);
      const q = query.size === 0 ? '' : `?${query}`;
      const answer = await raw(target, 'PUT', `${valuePath()}${q}`, body);
      process.stdout.write(
        values.json ? `${answer.toString()}\n` : `stored ${positionals[1]} (${body.length} bytes)\n`,
      );
      return;
    }
    case 'get': {
      process.stdout.write(await raw(target, 'GET', valuePath(), null));
      return;
    }
    case 'delete': {
      await callApi(target, 'DELETE', valuePath());
      process.stdout.write(`deleted ${positionals[1]}\n`);
      return;
    }
    case 'keys': {
      const names: string[] = [];
      let cursor = '';
      for (;;) {
        const query = new URLSearchParams({ prefix: values.prefix ?? '' });
        if (cursor !== '') query.set('cursor', cursor);
        const res = await callApi<{ name: string }[]>(
          target,
          'GET',
          `${base}/${arg(0, 'NAMESPACE_ID')}/keys?${query}`,
        );
        names.push(...res.result.map((k) => k.name));
        cursor = (res.result_info as { cursor?: string } | undefined)?.cursor ?? '';
        if (cursor === '') break;
      }
      if (values.json) printJson(names);
      else process.stdout.write(names.map((n) => `${n}\n`).join(''));
      return;
    }
    default:
      throw new UsageError(
        `kv: unknown verb "${verb}" (namespaces, create, delete-namespace, put, get, delete, keys)`,
      );
  }
}

/** A call with a raw body or answer (values are bytes, not JSON). */
async function raw(
  target: { api: string; token: string },
  method: 'GET' | 'PUT',
  path: string,
  body: Buffer | null,
): Promise<Buffer> {
  const base = target.api.split(',')[0]?.replace(/\/$/, '') ?? '';
  const res = await request(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${target.token}`,
      ...(body === null ? {} : { 'content-type': 'application/octet-stream' }),
    },
    body,
    headersTimeout: 30_000,
  });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode !== 200) {
    let message = bytes.toString().slice(0, 300);
    try {
      message = (JSON.parse(message) as { errors: { message: string }[] }).errors
        .map((e) => e.message)
        .join('; ');
    } catch {
      // not an envelope
    }
    throw new ApiCallError(`${method} ${path}: HTTP ${res.statusCode}: ${message}`);
  }
  return bytes;
}
