// The node's calls to the control plane's /internal/v1 API (besides the event stream): register,
// heartbeat, the snapshot and certificate material. Every call carries `Authorization: Bearer <token>`; answers may come
// inside the Cloudflare-style envelope `{ success, errors, result }`, which is unwrapped here.
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import type { CertificateMaterial } from '../../common/config/certificate.ts';
import { FailoverUrls } from '../../common/http/failover-urls.ts';
import type { Snapshot, WorkerScriptRef } from '../../common/events/types.ts';
import type { KvEntryRef } from '../../common/config/kv.ts';
import type { WorkerScript } from '../../common/config/worker.ts';
import type { AnalyticsBatch, BatchReceipt } from '../../common/analytics/batch.ts';
import { explainUntrusted } from '../../common/tls/control-trust.ts';
import { isSnapshot } from './snapshot.ts';

export interface NodeRegistration {
  name: string;
  pop: string;
  url: string;
  admin_url: string | null;
  /** Checked against the PoP's role by the control plane. */
  role?: 'edge' | 'shield';
}

export interface ControlClientOptions {
  /** One URL, several (failover in order), or a pool shared with the node's other control-plane clients. */
  controlUrl: string | readonly string[] | FailoverUrls;
  token: string;
  /** Whole-call limit (headers and body). Default 10 s. */
  timeoutMs?: number;
  dispatcher?: Dispatcher;
}

/** A call that reached the control plane and got an error status (network failures are plain errors). */
export class ControlHttpError extends Error {
  override name = 'ControlHttpError';
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export class ControlClient {
  /** Where calls go: the first URL that answers, kept while it does (failover-urls.ts). */
  readonly urls: FailoverUrls;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #dispatcher: Dispatcher | undefined;

  constructor(options: ControlClientOptions) {
    const { controlUrl } = options;
    this.urls =
      controlUrl instanceof FailoverUrls
        ? controlUrl
        : new FailoverUrls(typeof controlUrl === 'string' ? [controlUrl] : controlUrl);
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#dispatcher = options.dispatcher;
  }

  async register(node: NodeRegistration, signal?: AbortSignal): Promise<void> {
    await this.#call('POST', '/internal/v1/nodes/register', node, signal);
  }

  async heartbeat(name: string, appliedSeq: number, signal?: AbortSignal): Promise<void> {
    await this.#call(
      'POST',
      `/internal/v1/nodes/${encodeURIComponent(name)}/heartbeat`,
      { applied_seq: appliedSeq },
      signal,
    );
  }

  async purgeAcks(
    name: string,
    acks: readonly { purge_id: string; applied_at: string }[],
    signal?: AbortSignal,
  ): Promise<void> {
    await this.#call('POST', `/internal/v1/nodes/${encodeURIComponent(name)}/purge-acks`, { acks }, signal);
  }

  /** Progress on a prewarm (edge/prewarm/prewarmer.ts): of `total` URLs this node owns, how many loaded or failed. */
  async prewarmProgress(
    name: string,
    progress: { prewarm_id: string; total: number; done: number; failed: number },
    signal?: AbortSignal,
  ): Promise<void> {
    await this.#call(
      'POST',
      `/internal/v1/nodes/${encodeURIComponent(name)}/prewarm-progress`,
      progress,
      signal,
    );
  }

  /** An analytics batch (edge/analytics/shipper.ts); the receipt names the zones being tailed. */
  async analyticsBatch(batch: AnalyticsBatch, signal?: AbortSignal): Promise<BatchReceipt> {
    const result = (await this.#call(
      'POST',
      '/internal/v1/analytics/batches',
      batch,
      signal,
    )) as Partial<BatchReceipt> | null;
    return { duplicate: result?.duplicate === true, tails: Array.isArray(result?.tails) ? result.tails : [] };
  }

  /** Live requests of tailed zones (edge/analytics/tail.ts); answers the zones still tailed. */
  async tailRecords(node: string, records: readonly unknown[], signal?: AbortSignal): Promise<string[]> {
    const result = (await this.#call('POST', '/internal/v1/analytics/tail', { node, records }, signal)) as {
      tails?: unknown;
    } | null;
    return Array.isArray(result?.tails) ? (result.tails as string[]) : [];
  }

  async snapshot(signal?: AbortSignal): Promise<Snapshot> {
    const result = await this.#call('GET', '/internal/v1/snapshot', undefined, signal);
    if (!isSnapshot(result)) throw new Error('GET /internal/v1/snapshot: the answer is not a snapshot');
    return result;
  }

  /** A certificate's chain and key; the control plane answers only for zones the node's PoP serves (else 403). */
  async certificate(id: string, nodeName: string, signal?: AbortSignal): Promise<CertificateMaterial> {
    const path = `/internal/v1/certificates/${encodeURIComponent(id)}?node=${encodeURIComponent(nodeName)}`;
    const result = (await this.#call('GET', path, undefined, signal)) as Partial<CertificateMaterial> | null;
    if (
      typeof result?.certificate !== 'string' ||
      typeof result.private_key !== 'string' ||
      typeof result.modified_on !== 'string'
    ) {
      throw new Error(`GET /internal/v1/certificates/${id}: the answer is not certificate material`);
    }
    return {
      id,
      certificate: result.certificate,
      private_key: result.private_key,
      modified_on: result.modified_on,
    };
  }

  /** A worker version's source and bindings (secrets included), for a node of a PoP serving its zone. */
  async workerScript(ref: WorkerScriptRef, nodeName: string, signal?: AbortSignal): Promise<WorkerScript> {
    const path = `/internal/v1/workers/${encodeURIComponent(ref.zone_id)}/${encodeURIComponent(ref.name)}?version=${ref.version}&node=${encodeURIComponent(nodeName)}`;
    const result = (await this.#call('GET', path, undefined, signal)) as Partial<WorkerScript> | null;
    if (typeof result?.source !== 'string' || !Array.isArray(result.bindings) || result.etag !== ref.etag)
      throw new Error(`GET ${path}: the answer is not version ${ref.version} of the script`);
    return result as WorkerScript;
  }

  /** Every entry of a KV namespace (large values by reference). */
  async kvEntries(ns: string, nodeName: string, signal?: AbortSignal): Promise<KvEntryRef[]> {
    const path = `/internal/v1/kv/${encodeURIComponent(ns)}/entries?node=${encodeURIComponent(nodeName)}`;
    const result = await this.#call('GET', path, undefined, signal);
    if (!Array.isArray(result)) throw new Error(`GET ${path}: the answer is not a list of entries`);
    return result as KvEntryRef[];
  }

  /** One KV value sent by reference; null when the key has another version now (or none). */
  async kvValue(ns: string, key: string, etag: string, nodeName: string): Promise<Buffer | null> {
    const path = `/internal/v1/kv/${encodeURIComponent(ns)}/value?key=${encodeURIComponent(key)}&node=${encodeURIComponent(nodeName)}`;
    const result = (await this.#call('GET', path, undefined, undefined)) as {
      value_b64?: unknown;
      etag?: unknown;
    } | null;
    if (typeof result?.value_b64 !== 'string' || result.etag !== etag) return null;
    return Buffer.from(result.value_b64, 'base64');
  }

  /** A worker's KV write, through the control plane (which logs it for every node). */
  async kvWrite(
    op:
      | {
          kind: 'put';
          ns: string;
          key: string;
          value: Buffer;
          metadata: string | null;
          expiration: number | null;
        }
      | { kind: 'delete'; ns: string; key: string },
    nodeName: string,
  ): Promise<void> {
    const path = `/internal/v1/kv/${encodeURIComponent(op.ns)}/write?node=${encodeURIComponent(nodeName)}`;
    const body =
      op.kind === 'put'
        ? {
            kind: 'put',
            key: op.key,
            value_b64: op.value.toString('base64'),
            metadata: op.metadata,
            expiration: op.expiration,
          }
        : { kind: 'delete', key: op.key };
    await this.#call('POST', path, body, undefined);
  }

  async #call(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    // Every call here is idempotent (register, heartbeat, receipts, reads): any failure may go elsewhere.
    return this.urls.call((base) => this.#callOnce(base, method, path, body, signal), {
      ...(signal === undefined ? {} : { signal }),
    });
  }

  async #callOnce(
    base: URL,
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const res = await request(new URL(path, base), {
      method,
      headers: {
        authorization: `Bearer ${this.#token}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
      ...(this.#dispatcher === undefined ? {} : { dispatcher: this.#dispatcher }),
    }).catch((err: unknown) => {
      // An untrusted certificate says which flag gives the CA (a bare OpenSSL code does not).
      throw explainUntrusted(err, base.origin, '--control-ca');
    });
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode > 299) {
      throw new ControlHttpError(
        res.statusCode,
        `${method} ${path}: HTTP ${res.statusCode} ${errorText(text)}`,
      );
    }
    return unwrapEnvelope(text === '' ? null : JSON.parse(text));
  }
}

/** `result` of a `{ success, result }` envelope, else the value itself. */
export function unwrapEnvelope(value: unknown): unknown {
  if (typeof value === 'object' && value !== null && 'success' in value && 'result' in value) {
    return (value as { result: unknown }).result;
  }
  return value;
}

function errorText(text: string): string {
  try {
    const body = JSON.parse(text) as { errors?: { message?: unknown }[] };
    const messages = body.errors?.map((e) => String(e.message)).join('; ');
    if (messages !== undefined && messages !== '') return messages;
  } catch {
    // not JSON: show it as it is
  }
  return text.slice(0, 300);
}
