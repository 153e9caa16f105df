// The CLI's client for the control plane's REST API: --api / MERIDIAN_API and --token / MERIDIAN_TOKEN.
import { request } from 'undici';
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
  return { api: api.replace(/\/$/, ''), token };
}

export async function callApi<T>(
  target: ApiTarget,
  method: string,
  path: string,
  body?: unknown,
): Promise<Envelope<T>> {
  let res;
  try {
    res = await request(`${target.api}${path}`, {
      method: method as 'GET',
      headers: {
        authorization: `Bearer ${target.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiCallError(`cannot reach the control plane at ${target.api}: ${(err as Error).message}`);
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
