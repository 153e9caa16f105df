// meridian certs upload|list|get|delete|acme and client-upload|client-list|client-delete: a zone's
// TLS certificates (custom_certificates) and its client certificate for authenticated origin pulls
// (origin_tls_client_auth).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError } from '../args.ts';
import { printTable } from '../table.ts';
import { API_CLIENT_OPTIONS, apiTarget, callApi, printJson, zoneIdOf } from '../api-client.ts';

export const CERTS_HELP = `meridian certs — a zone's TLS certificates

Usage:
  meridian certs upload --zone ZONE --cert FILE --key FILE     upload a certificate (PEM chain, leaf first) and its key
  meridian certs replace --zone ZONE --cert FILE [--key FILE] ID   replace one (renewal); the stored key is kept without --key
  meridian certs list --zone ZONE                              the zone's certificates, hosts and expiry
  meridian certs get --zone ZONE ID
  meridian certs delete --zone ZONE ID
  meridian certs acme --zone ZONE                              have the control plane issue and renew one over ACME
  meridian certs client-upload --zone ZONE --cert FILE --key FILE   the client certificate nodes present to
  meridian certs client-list --zone ZONE                            the zone's https origins (authenticated
  meridian certs client-delete --zone ZONE ID                       origin pulls)

The control plane checks that the key matches, the chain is in order, the hosts belong to the zone and
the certificate has not expired; private keys are encrypted at rest and never shown again.
ZONE is a zone id or name. Common options: --api URL, --token TOKEN (or MERIDIAN_API / MERIDIAN_TOKEN), --json.
`;

interface Meta {
  id: string;
  usage: string;
  type: string;
  hosts: string[];
  status: string;
  expires_on: string;
  issuer: string;
}

export async function runCerts(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      ...API_CLIENT_OPTIONS,
      zone: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
    },
  });
  if (verb === undefined || values.help || verb === 'help' || verb === '--help' || verb === '-h') {
    process.stdout.write(CERTS_HELP);
    return;
  }
  if (values.zone === undefined) throw new UsageError('--zone: required');
  const target = apiTarget(values);
  const zoneId = await zoneIdOf(target, values.zone);
  const server = `/client/v4/zones/${zoneId}/custom_certificates`;
  const client = `/client/v4/zones/${zoneId}/origin_tls_client_auth`;
  const show = (meta: Meta, what: string): void => {
    if (values.json) printJson(meta);
    else
      process.stdout.write(
        `${what} certificate ${meta.id} (${meta.hosts.join(',')}; ${meta.status}; expires ${meta.expires_on})\n`,
      );
  };
  const list = async (path: string): Promise<void> => {
    const res = await callApi<Meta[]>(target, 'GET', path);
    if (values.json) printJson(res.result);
    else
      printTable(
        ['ID', 'TYPE', 'STATUS', 'EXPIRES', 'HOSTS', 'ISSUER'],
        res.result.map((c) => [c.id, c.type, c.status, c.expires_on, c.hosts.join(','), c.issuer]),
      );
  };
  const remove = async (path: string): Promise<void> => {
    const id = idOf(verb, positionals);
    await callApi(target, 'DELETE', `${path}/${id}`);
    process.stdout.write(`deleted certificate ${id}\n`);
  };
  switch (verb) {
    case 'upload':
      return show((await callApi<Meta>(target, 'POST', server, pemBody(values, true))).result, 'uploaded');
    case 'replace': {
      const id = idOf(verb, positionals);
      return show(
        (await callApi<Meta>(target, 'PATCH', `${server}/${id}`, pemBody(values, false))).result,
        'replaced',
      );
    }
    case 'list':
      return list(server);
    case 'get':
      return printJson((await callApi<Meta>(target, 'GET', `${server}/${idOf(verb, positionals)}`)).result);
    case 'delete':
      return remove(server);
    case 'acme':
      return show((await callApi<Meta>(target, 'POST', server, { type: 'acme' })).result, 'ordered');
    case 'client-upload':
      return show(
        (await callApi<Meta>(target, 'POST', client, pemBody(values, true))).result,
        'uploaded client',
      );
    case 'client-list':
      return list(client);
    case 'client-delete':
      return remove(client);
    default:
      throw new UsageError(
        `certs: unknown verb "${verb}" (upload, replace, list, get, delete, acme, client-upload, client-list, client-delete)`,
      );
  }
}

function idOf(verb: string, positionals: string[]): string {
  const id = positionals[0];
  if (id === undefined) throw new UsageError(`certs ${verb}: the certificate ID is required`);
  return id;
}

function pemBody(
  values: { cert?: string | undefined; key?: string | undefined },
  keyRequired: boolean,
): Record<string, string> {
  if (values.cert === undefined) throw new UsageError('--cert: required (PEM chain, leaf first)');
  if (values.key === undefined && keyRequired) throw new UsageError('--key: required (PEM private key)');
  const body: Record<string, string> = { certificate: readPem('cert', values.cert) };
  if (values.key !== undefined) body.private_key = readPem('key', values.key);
  return body;
}

function readPem(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `--${flag}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}
