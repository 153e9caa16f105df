// A minimal HTTP/1.1 client for polling many nodes at once from one process: one keep-alive
// connection per node, each request one write, and of the answer only the status, the fields asked
// for, and the framing (Content-Length or chunked) parsed. The benchmark's own process shares the
// cores with the nodes it measures, so it should do as little per request as it can: a starved
// observer adds its lag to every figure.
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export interface ProbeAnswer {
  status: number;
  /** The fields asked for (lower-case names), as sent. */
  fields: Map<string, string>;
}

interface Pending {
  head: string;
  /** Sent again once on a new connection when the server closed a reused idle one (keep-alive race). */
  mayRetry: boolean;
  resolve: (answer: ProbeAnswer) => void;
  reject: (err: Error) => void;
}

export class HttpProbe {
  readonly #host: string;
  readonly #port: number;
  readonly #wanted: ReadonlySet<string>;
  #socket: Socket | null = null;
  #buffer: Buffer = Buffer.alloc(0);
  #pending: Pending | null = null;

  /** `wanted`: the response fields to return (lower-case). */
  constructor(url: string, wanted: readonly string[]) {
    const parsed = new URL(url);
    this.#host = parsed.hostname;
    this.#port = Number(parsed.port);
    this.#wanted = new Set(wanted);
  }

  /** One GET at a time (callers await each). */
  get(path: string, headers: Record<string, string>): Promise<ProbeAnswer> {
    if (this.#pending !== null) throw new Error('HttpProbe: one request at a time');
    const head = [
      `GET ${path} HTTP/1.1`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      '',
      '',
    ].join('\r\n');
    return new Promise((resolve, reject) => {
      const isReused = this.#socket !== null && !this.#socket.destroyed;
      this.#pending = { head, mayRetry: isReused, resolve, reject };
      this.#connection().write(head);
    });
  }

  close(): void {
    this.#socket?.destroy();
    this.#socket = null;
  }

  #connection(): Socket {
    if (this.#socket !== null && !this.#socket.destroyed) return this.#socket;
    const socket = connect({ host: this.#host, port: this.#port, noDelay: true });
    this.#buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#parse();
    });
    const fail = (err: Error): void => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      const pending = this.#pending;
      if (pending === null) return;
      if (pending.mayRetry && this.#buffer.length === 0) {
        pending.mayRetry = false;
        this.#connection().write(pending.head);
        return;
      }
      this.#pending = null;
      pending.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error(`connection to ${this.#host}:${this.#port} closed`)));
    this.#socket = socket;
    return socket;
  }

  /** Completes the pending request once its whole answer is buffered. */
  #parse(): void {
    const buffer = this.#buffer;
    const end = buffer.indexOf('\r\n\r\n');
    if (end === -1 || this.#pending === null) return;
    const lines = buffer.toString('latin1', 0, end).split('\r\n');
    const status = Number((lines[0] ?? '').split(' ')[1]);
    const fields = new Map<string, string>();
    let length: number | null = null;
    let isChunked = false;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') length = Number(value);
      else if (name === 'transfer-encoding') isChunked = /chunked/i.test(value);
      if (this.#wanted.has(name))
        fields.set(name, fields.has(name) ? `${fields.get(name)}, ${value}` : value);
    }
    let consumed: number;
    if (isChunked) {
      // Chunk sizes, each chunk and its CRLF, up to the zero chunk and the final CRLF (no trailers).
      let at = end + 4;
      for (;;) {
        const lineEnd = buffer.indexOf('\r\n', at);
        if (lineEnd === -1) return;
        const size = parseInt(buffer.toString('latin1', at, lineEnd), 16);
        if (size === 0) {
          if (buffer.length < lineEnd + 4) return;
          consumed = lineEnd + 4;
          break;
        }
        at = lineEnd + 2 + size + 2;
        if (buffer.length < at) return;
      }
    } else {
      consumed = end + 4 + (length ?? 0);
      if (buffer.length < consumed) return;
    }
    this.#buffer = buffer.subarray(consumed);
    const pending = this.#pending;
    this.#pending = null;
    pending.resolve({ status, fields });
  }
}
