// One worker script in its own V8 isolate (isolated-vm): its own heap with a memory limit, no Node
// APIs, no file system, nothing of the process but the host functions below, which take and return
// copies. The Web APIs come from isolate/web-runtime.js, evaluated in the isolate first.
//
// Limits: a request's CPU time (isolate.cpuTime, polled) and wall time (a timer), and the heap
// (isolated-vm's memoryLimit). A request over a limit disposes of the whole isolate — V8 cannot stop
// one request of several running in one isolate — so its other in-flight requests fail too, and the
// pool starts a fresh isolate for the next one. The isolate runs on isolated-vm's own threads, so an
// infinite loop does not block this node's event loop while the watchdog waits.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import ivm from 'isolated-vm';
import type { Binding } from '../../common/config/worker.ts';
import { syntaxProblemOf } from '../../common/workers/check-script.ts';
import { PassThrough, type Readable } from 'node:stream';
import { hostFunctions, type BodySink, type WorkerHost } from './host-functions.ts';

const RUNTIME_SOURCE = readFileSync(new URL('./isolate/web-runtime.js', import.meta.url), 'utf8');

export interface WorkerLimits {
  /** V8 heap of one isolate. */
  memoryMb: number;
  /** CPU time one request may use (the isolate's CPU while the request is in flight). */
  cpuMs: number;
  /** From dispatch to the response, and again for ctx.waitUntil work after it. */
  wallMs: number;
}

export const DEFAULT_LIMITS: WorkerLimits = { memoryMb: 128, cpuMs: 50, wallMs: 30_000 };

export interface WorkerRequest {
  method: string;
  url: string;
  headers: [string, string][];
  /** Whole, streamed in as the worker reads it (the client's request), or none. */
  body: ArrayBuffer | Readable | null;
  cf: Record<string, string | number | null>;
}

export interface WorkerResponse {
  status: number;
  statusText: string;
  headers: [string, string][];
  /** The whole body, or null when it streams (`stream`). */
  body: ArrayBuffer | null;
  /** A body the worker produces as a stream, chunk by chunk; null when `body` is whole. */
  stream: Readable | null;
}

/** How a request ended in the isolate. */
export type WorkerOutcome =
  | { kind: 'response'; response: WorkerResponse }
  /** The script threw, returned no Response, or broke a limit; `reason` says which. */
  | { kind: 'failed'; reason: 'exception' | 'cpu' | 'wall' | 'memory' | 'disposed'; message: string };

interface Dispatched {
  status?: number;
  statusText?: string;
  headers?: [string, string][];
  body?: ArrayBuffer | null;
  error?: string;
  waits: number;
}

/** A compile error with its position (line and column are 1-based), for the API's 400. */
export class ScriptError extends Error {
  readonly line: number | null;
  readonly column: number | null;
  constructor(message: string, line: number | null, column: number | null) {
    super(message);
    this.line = line;
    this.column = column;
  }
}

function scriptErrorOf(err: unknown): ScriptError {
  const p = syntaxProblemOf(err);
  return new ScriptError(p.message, p.line, p.column);
}

let nextRequestId = 1;

/**
 * V8 code caches by source (the runtime's glue, and each deployed script): a new isolate of a script
 * compiled before skips parsing and compiling it again (measured: the bulk of a cold start). Bounded;
 * the oldest entry goes first.
 */
const codeCache = new Map<string, ivm.ExternalCopy<ArrayBuffer>>();
const CODE_CACHE_ENTRIES = 512;

function compileCached(isolate: ivm.Isolate, kind: 'script', code: string, filename: string): ivm.Script;
function compileCached(isolate: ivm.Isolate, kind: 'module', code: string, filename: string): ivm.Module;
function compileCached(
  isolate: ivm.Isolate,
  kind: 'script' | 'module',
  code: string,
  filename: string,
): ivm.Script | ivm.Module {
  const key = `${kind}:${createHash('sha256').update(code).digest('base64')}`;
  const cached = codeCache.get(key);
  const options =
    cached === undefined ? { filename, produceCachedData: true } : { filename, cachedData: cached };
  const compiled =
    kind === 'script' ? isolate.compileScriptSync(code, options) : isolate.compileModuleSync(code, options);
  const result = compiled as unknown as {
    cachedData?: ivm.ExternalCopy<ArrayBuffer>;
    cachedDataRejected?: boolean;
  };
  if (cached === undefined && result.cachedData !== undefined) {
    if (codeCache.size >= CODE_CACHE_ENTRIES) codeCache.delete(codeCache.keys().next().value as string);
    codeCache.set(key, result.cachedData);
  } else if (result.cachedDataRejected === true) {
    codeCache.delete(key);
  }
  return compiled;
}

/**
 * Moves the host functions from globals into one frozen object the runtime closes over. Async ones
 * are References, called with copied arguments and a copied, awaited result.
 */
const HOST_GLUE = `((names, asyncNames, fns) => {
  const h = {};
  const opts = { arguments: { copy: true }, result: { promise: true, copy: true } };
  names.forEach((n, i) => {
    const f = fns[i];
    h[n] = asyncNames.includes(n) ? (...a) => f.apply(undefined, a, opts) : f;
  });
  return Object.freeze(h);
})`;

export class WorkerIsolate {
  readonly #isolate: ivm.Isolate;
  readonly #dispatch: ivm.Reference<(...args: unknown[]) => Promise<Dispatched>>;
  readonly #settle: ivm.Reference<(id: number) => Promise<void>>;
  readonly #limits: WorkerLimits;
  /** In-flight requests: id → CPU time (ns) at dispatch, and how to fail them. */
  readonly #inFlight = new Map<number, { cpuAtStart: bigint; fail: (reason: LimitReason) => void }>();
  #watchdog: NodeJS.Timeout | null = null;
  #deathReason: LimitReason | null = null;
  /** Requests served (for eviction by age). */
  served = 0;
  lastUsedMs = Date.now();

  readonly #sink: StreamSink;

  private constructor(
    isolate: ivm.Isolate,
    api: ivm.Reference<Record<string, unknown>>,
    limits: WorkerLimits,
    sink: StreamSink,
  ) {
    this.#sink = sink;
    this.#isolate = isolate;
    this.#limits = limits;
    this.#dispatch = api.getSync('dispatch', { reference: true }) as ivm.Reference<
      (...args: unknown[]) => Promise<Dispatched>
    >;
    this.#settle = api.getSync('settle', { reference: true }) as ivm.Reference<(id: number) => Promise<void>>;
  }

  /** A new isolate with the Web runtime, the module evaluated and the bindings set (the cold start). */
  static async create(
    source: string,
    bindings: readonly Binding[],
    limits: WorkerLimits,
    host: WorkerHost,
  ): Promise<WorkerIsolate> {
    const isolate = new ivm.Isolate({ memoryLimit: limits.memoryMb });
    try {
      const context = isolate.createContextSync();
      const sink = new StreamSink();
      const fns = hostFunctions(host, sink);
      const names = Object.keys(fns);
      const asyncNames = names.filter((n) => fns[n] instanceof ivm.Reference);
      // One call hands every host function to the runtime (each crossing costs a thread hop): they
      // live in its closure, out of the worker's reach.
      const installer = compileCached(
        isolate,
        'script',
        `(function (...fns) { return (${RUNTIME_SOURCE.trim().replace(/;$/, '')})(${HOST_GLUE}(${JSON.stringify(names)}, ${JSON.stringify(asyncNames)}, fns)); })`,
        'meridian-runtime.js',
      ).runSync(context, { reference: true }) as ivm.Reference<(...fns: unknown[]) => unknown>;
      const api = installer.applySync(
        undefined,
        names.map((n) => fns[n]),
        { result: { reference: true }, timeout: limits.wallMs },
      ) as unknown as ivm.Reference<Record<string, unknown>>;
      let module: ivm.Module;
      try {
        module = compileCached(isolate, 'module', source, 'worker.js');
      } catch (err) {
        throw scriptErrorOf(err);
      }
      module.instantiateSync(context, (specifier) => {
        throw new Error(`import of "${specifier}": workers cannot import modules`);
      });
      await module.evaluate({ timeout: limits.cpuMs * 10 });
      const setup = api.getSync('setup', { reference: true }) as ivm.Reference<
        (ns: unknown, bindings: unknown) => string | null
      >;
      const problem = setup.applySync(undefined, [
        module.namespace.derefInto(),
        new ivm.ExternalCopy(bindings).copyInto(),
      ]);
      if (problem !== null) throw new ScriptError(problem, null, null);
      return new WorkerIsolate(isolate, api, limits, sink);
    } catch (err) {
      if (!isolate.isDisposed) isolate.dispose();
      if (err instanceof ScriptError) throw err;
      throw scriptErrorOf(err);
    }
  }

  get isAlive(): boolean {
    return !this.#isolate.isDisposed;
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Runs the worker's fetch for one request; the response is whole (bodies are buffered, see docs/workers.md). */
  async handle(req: WorkerRequest, afterResponse: (work: Promise<void>) => void): Promise<WorkerOutcome> {
    if (!this.isAlive)
      return { kind: 'failed', reason: this.#deathReason ?? 'disposed', message: 'isolate gone' };
    this.lastUsedMs = Date.now();
    this.served++;
    const id = nextRequestId++;
    let failWith: (reason: LimitReason) => void = () => {};
    const limitHit = new Promise<LimitReason>((resolve) => (failWith = resolve));
    this.#inFlight.set(id, { cpuAtStart: this.#isolate.cpuTime, fail: failWith });
    this.#startWatchdog();
    const wall = setTimeout(() => this.#kill('wall'), this.#limits.wallMs);
    try {
      const body =
        req.body === null || req.body instanceof ArrayBuffer ? req.body : this.#sink.streamIn(id, req.body);
      const run = this.#dispatch.apply(undefined, [id, req.method, req.url, req.headers, body, req.cf], {
        arguments: { copy: true },
        result: { promise: true, copy: true },
      });
      const result = await Promise.race([run, limitHit]);
      if (typeof result === 'string') return limitOutcome(result);
      clearTimeout(wall);
      if (result.waits > 0) afterResponse(this.#settleLater(id, limitHit));
      else this.#endRequest(id);
      if (result.error !== undefined) return { kind: 'failed', reason: 'exception', message: result.error };
      return {
        kind: 'response',
        response: {
          status: result.status as number,
          statusText: result.statusText as string,
          headers: result.headers as [string, string][],
          body: result.body ?? null,
          stream: result.body === null ? this.#sink.streamOf(id) : null,
        },
      };
    } catch (err) {
      this.#endRequest(id);
      const reason = this.#deathReason ?? (this.#isolate.isDisposed ? memoryOrDisposed(err) : null);
      if (reason !== null) return limitOutcome(reason);
      return {
        kind: 'failed',
        reason: 'exception',
        message: err instanceof Error ? err.message : String(err),
      };
    } finally {
      clearTimeout(wall);
    }
  }

  /** ctx.waitUntil work after the response, under the same limits; then the request ends. */
  async #settleLater(id: number, limitHit: Promise<LimitReason>): Promise<void> {
    const wall = setTimeout(() => this.#kill('wall'), this.#limits.wallMs);
    try {
      await Promise.race([this.#settle.apply(undefined, [id], { result: { promise: true } }), limitHit]);
    } catch {
      // The isolate was disposed: nothing more to wait for.
    } finally {
      clearTimeout(wall);
      this.#endRequest(id);
    }
  }

  #endRequest(id: number): void {
    this.#inFlight.delete(id);
    this.#sink.endRequest(id);
  }

  /** Polls CPU time while requests are in flight (isolated-vm has no per-call CPU limit for async work). */
  #startWatchdog(): void {
    if (this.#watchdog !== null) return;
    const every = Math.max(2, Math.min(10, Math.floor(this.#limits.cpuMs / 4)));
    this.#watchdog = setInterval(() => {
      if (this.#inFlight.size === 0 || this.#isolate.isDisposed) {
        if (this.#watchdog !== null) clearInterval(this.#watchdog);
        this.#watchdog = null;
        return;
      }
      const cpu = this.#isolate.cpuTime;
      const budget = BigInt(this.#limits.cpuMs) * 1_000_000n;
      for (const entry of this.#inFlight.values()) {
        if (cpu - entry.cpuAtStart > budget) return this.#kill('cpu');
      }
    }, every);
    this.#watchdog.unref();
  }

  #kill(reason: LimitReason): void {
    if (this.#deathReason === null) this.#deathReason = reason;
    if (!this.#isolate.isDisposed) this.#isolate.dispose();
    this.#sink.failAll(new Error(`worker stopped: ${this.#deathReason}`));
    for (const entry of this.#inFlight.values()) entry.fail(this.#deathReason);
    this.#inFlight.clear();
  }

  /** V8 heap in use, for eviction of isolates that grow. */
  async heapUsedBytes(): Promise<number> {
    if (!this.isAlive) return 0;
    const stats = await this.#isolate.getHeapStatistics();
    return stats.used_heap_size + stats.externally_allocated_size;
  }

  dispose(): void {
    if (this.#deathReason === null) this.#deathReason = 'disposed';
    this.#kill(this.#deathReason);
  }
}

type LimitReason = 'cpu' | 'wall' | 'memory' | 'disposed';

/**
 * Streamed response bodies of one isolate's requests, by request id. A chunk may arrive before the
 * host has seen the response head, so each stream is made by whichever comes first. Backpressure:
 * the worker's next chunk waits until the client's socket drained.
 */
class StreamSink implements BodySink {
  readonly #streams = new Map<number, PassThrough>();

  streamOf(id: number): PassThrough {
    let stream = this.#streams.get(id);
    if (stream === undefined) {
      stream = new PassThrough();
      this.#streams.set(id, stream);
      const forget = (): void => void this.#streams.delete(id);
      stream.once('close', forget);
    }
    return stream;
  }

  async chunk(id: number, data: ArrayBuffer | string | null): Promise<boolean> {
    const stream = this.streamOf(id);
    if (stream.destroyed) return false;
    if (data === null) {
      stream.end();
      return true;
    }
    if (typeof data === 'string') {
      stream.destroy(new Error(`the worker's body stream failed: ${data}`));
      return false;
    }
    if (stream.write(Buffer.from(data))) return true;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        stream.off('drain', done);
        stream.off('close', done);
        resolve();
      };
      stream.on('drain', done);
      stream.on('close', done);
    });
    return !stream.destroyed;
  }

  readonly #incoming = new Map<number, IncomingBody>();

  /** Registers a request body to stream in; the isolate gets `true` in its place. */
  streamIn(id: number, body: Readable): true {
    this.#incoming.set(id, new IncomingBody(body));
    return true;
  }

  pull(id: number): Promise<ArrayBuffer | null> {
    return this.#incoming.get(id)?.next() ?? Promise.resolve(null);
  }

  /** The request ended: what the worker did not read of its body is drained and dropped. */
  endRequest(id: number): void {
    this.#incoming.get(id)?.discard();
    this.#incoming.delete(id);
  }

  failAll(err: Error): void {
    for (const id of [...this.#incoming.keys()]) this.endRequest(id);
    for (const stream of this.#streams.values()) stream.destroy(err);
    this.#streams.clear();
  }
}

function limitOutcome(reason: LimitReason): WorkerOutcome {
  const message = {
    cpu: 'the worker exceeded its CPU time limit',
    wall: 'the worker exceeded its wall time limit',
    memory: 'the worker exceeded its memory limit',
    disposed: 'the worker was stopped',
  }[reason];
  return { kind: 'failed', reason, message };
}

function memoryOrDisposed(err: unknown): LimitReason {
  const message = err instanceof Error ? err.message : String(err);
  return /memory limit/i.test(message) ? 'memory' : 'disposed';
}

/**
 * A client's request body read chunk by chunk as the worker pulls (paused between pulls, so the
 * client is held back by TCP). When the request ends, the rest is read and dropped, so the client's
 * keep-alive connection can carry its next request: Node discards an unread body only when nothing
 * began reading it, and destroying the stream would close the socket.
 */
class IncomingBody {
  readonly #body: Readable;
  readonly #queue: Buffer[] = [];
  #ended = false;
  #isDiscarding = false;
  #wake: (() => void) | null = null;

  constructor(body: Readable) {
    this.#body = body;
    body.pause();
    body.on('data', (chunk: Buffer) => {
      if (this.#isDiscarding) return;
      this.#queue.push(chunk);
      body.pause();
      this.#notify();
    });
    const end = (): void => {
      this.#ended = true;
      this.#notify();
    };
    body.once('end', end);
    body.once('error', end);
    body.once('close', end);
  }

  async next(): Promise<ArrayBuffer | null> {
    while (this.#queue.length === 0 && !this.#ended) {
      const arrived = new Promise<void>((resolve) => (this.#wake = resolve));
      this.#body.resume();
      await arrived;
    }
    const chunk = this.#queue.shift();
    if (chunk === undefined) return null;
    return chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength) as ArrayBuffer;
  }

  discard(): void {
    this.#isDiscarding = true;
    this.#queue.length = 0;
    if (!this.#ended) this.#body.resume();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}
