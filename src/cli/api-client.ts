// The CLI's client for the control plane's REST API: --api / MERIDIAN_API and --token / MERIDIAN_TOKEN.
// Either may name several replicas, comma separated: a call that cannot reach one goes to the next
// (reads also on a timeout or a 5xx; writes only when the connection was refused, so that a write is
// never made twice), and the failover is said once on stderr.
import { request } from 'undici';
import { FailoverUrls, isConnectError, isFailoverError, splitUrlList } from '../common/http/failover-urls.ts';
import type { Logger } from '../common/log.ts';
import { UsageError } from './args.ts';

/** Options every API verb takes (parseArgs shapes). */
export const API_CLIENT_OPTIONS = {
  api: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export interface ApiTarget {
  api: string;
  token: string;
}

export interface Envelope<T> {
  success: boolean;
  errors: { code: number; message: string }[];
  result: T;
  result_info?: { page: number; total_pages: number; total_count: number };
}

export class ApiCallError extends Error {
  override name = 'ApiCallError';
}

export function apiTarget(values: { api?: string | undefined; token?: string | undefined }): ApiTarget {
  const api = values.api ?? process.env.MERIDIAN_API ?? 'http://127.0.0.1:8700';
  const token = values.token ?? process.env.MERIDIAN_TOKEN;
  if (token === undefined || token === '') throw new UsageError('--token: required (or set MERIDIAN_TOKEN)');
  const urls = splitUrlList(api).map((u) => u.replace(/\/$/, ''));
  if (urls.length === 0) throw new UsageError('--api: expected one or more http:// URLs, comma separated');
  for (const url of urls) {
    if (!/^https?:\/\/[^/]/.test(url) || !URL.canParse(url))
      throw new UsageError(`--api (or MERIDIAN_API): expected an http:// or https:// URL, got "${url}"`);
  }
  return { api: urls.join(','), token };
}

/** Plain lines on stderr (the CLI's output is for people, not the JSON log). */
const stderrLog: Logger = {
  debug: () => {},
  info: (msg) => process.stderr.write(`meridian: ${msg}\n`),
  // Failovers only: when every URL fails, the error the verb ends with says so.
  warn: (msg, fields) => void (fields?.from !== undefined && process.stderr.write(`meridian: ${msg}\n`)),
  error: (msg) => process.stderr.write(`meridian: ${msg}\n`),
};

/** One pool per --api value for the process: a failover is kept for the calls after it. */
const pools = new Map<string, FailoverUrls>();

function poolOf(api: string): FailoverUrls {
  let pool = pools.get(api);
  if (pool === undefined) {
    const urls = splitUrlList(api);
    // A single URL says nothing more than the error the call throws.
    pool = new FailoverUrls(urls, urls.length > 1 ? { log: stderrLog } : {});
    pools.set(api, pool);
  }
  return pool;
}

export async function callApi<T>(
  target: ApiTarget,
  method: string,
  path: string,
  body?: unknown,
): Promise<Envelope<T>> {
  const pool = poolOf(target.api);
  const canFailOver = method === 'GET' ? isFailoverError : (err: unknown) => isConnectError(err);
  let res;
  try {
    res = await pool.call(
      async (base) => {
        const answer = await request(`${base.href.replace(/\/$/, '')}${path}`, {
          method: method as 'GET',
          headers: {
            authorization: `Bearer ${target.token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? null : JSON.stringify(body),
          // A replica that accepts and then hangs must not hold the command for undici's 5 minutes.
          headersTimeout: 30_000,
        });
        if (answer.statusCode >= 500 && method === 'GET' && pool.urls.length > 1) {
          const text = await answer.body.text().catch(() => '');
          throw Object.assign(new Error(`HTTP ${answer.statusCode}: ${text.slice(0, 200)}`), {
            status: answer.statusCode,
          });
        }
        return answer;
      },
      { canFailOver },
    );
  } catch (err) {
    const where = pool.urls.map((u) => u.origin).join(', ');
    throw new ApiCallError(`cannot reach the control plane at ${where}: ${(err as Error).message}`);
  }
  const text = await res.body.text();
  let envelope: Envelope<T>;
  try {
    envelope = JSON.parse(text) as Envelope<T>;
  } catch {
    throw new ApiCallError(`${method} ${path}: HTTP ${res.statusCode}, not JSON: ${text.slice(0, 200)}`);
  }
  if (!envelope.success) {
    throw new ApiCallError(
      `${method} ${path}: HTTP ${res.statusCode}: ${envelope.errors.map((e) => e.message).join('; ')}`,
    );
  }
  return envelope;
}

/** Resolves a zone given by id or by name. */
export async function zoneIdOf(target: ApiTarget, zone: string): Promise<string> {
  if (/^[0-9a-f]{32}$/.test(zone)) return zone;
  for (let page = 1; page < 1000; page++) {
    const res = await callApi<{ id: string; name: string }[]>(
      target,
      'GET',
      `/client/v4/zones?per_page=100&page=${page}`,
    );
    const found = res.result.find((z) => z.name === zone);
    if (found !== undefined) return found.id;
    if (page >= (res.result_info?.total_pages ?? 1)) break;
  }
  throw new ApiCallError(`no zone named "${zone}"`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
