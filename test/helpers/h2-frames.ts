// A raw HTTP/2 client for abuse tests: it writes frames as given (a real client library would refuse
// to send a flood, or pace it), over TLS with ALPN h2, and reports what the server did: a GOAWAY (its
// error code), the connection closing, or neither. Frames per RFC 9113 §4.1; header blocks are
// HPACK literals without indexing (RFC 7541 §6.2.2), so every block stands alone.
import { connect, type TLSSocket } from 'node:tls';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, GOAWAY: 7, CONTINUATION: 9 } as const;
export const FLAG = { END_STREAM: 0x1, END_HEADERS: 0x4 } as const;
/** RFC 9113 §7: CANCEL, the code a client resets a stream with when it no longer wants it. */
export const CANCEL = 0x8;

export function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** One header field: literal without indexing, new name (lengths < 127, no Huffman). */
export function literal(name: string, value: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x00, name.length]),
    Buffer.from(name),
    Buffer.from([value.length]),
    Buffer.from(value),
  ]);
}

/** The header block of `GET https://authority/path`. */
export function getBlock(authority: string, path: string): Buffer {
  return Buffer.concat([
    literal(':method', 'GET'),
    literal(':scheme', 'https'),
    literal(':path', path),
    literal(':authority', authority),
  ]);
}

export interface RawH2 {
  readonly socket: TLSSocket;
  write(data: Buffer): boolean;
  /** Resolves once the server sent GOAWAY (with its error code) or closed the connection. */
  readonly ended: Promise<{ goaway: number | null; closed: boolean }>;
  /** HEADERS frames (responses) received so far. */
  responses(): number;
  destroy(): void;
}

/** Connects over TLS with ALPN h2 and sends the preface and an empty SETTINGS frame. */
export async function rawH2(port: number, servername: string, ca: string): Promise<RawH2> {
  const socket = connect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: ['h2'] });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    socket.once('error', reject);
  });
  if (socket.alpnProtocol !== 'h2') throw new Error(`ALPN chose ${String(socket.alpnProtocol)}`);
  let pending = Buffer.alloc(0);
  let responses = 0;
  let goaway: number | null = null;
  const ended = new Promise<{ goaway: number | null; closed: boolean }>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 9) {
        const length = pending.readUIntBE(0, 3);
        if (pending.length < 9 + length) break;
        const type = pending[3];
        if (type === FRAME.HEADERS) responses++;
        if (type === FRAME.GOAWAY && goaway === null) {
          goaway = pending.readUInt32BE(9 + 4);
          resolve({ goaway, closed: false });
        }
        pending = pending.subarray(9 + length);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ goaway, closed: true }));
  });
  socket.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0)]));
  return {
    socket,
    write: (data) => socket.write(data),
    ended,
    responses: () => responses,
    destroy: () => socket.destroy(),
  };
}
