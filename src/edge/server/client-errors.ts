// Answers for requests Node's parser (llhttp, strict) refuses before any step runs. The parser
// rejects request smuggling vectors itself: Content-Length together with Transfer-Encoding,
// invalid or conflicting Content-Length, obsolete line folding, invalid field names and values.
import type { Socket } from 'node:net';

interface ParserError extends Error {
  code?: string;
  rawPacket?: Buffer;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
};

/** The status for a parser error: 431 / 414 for oversized heads, 408 for slow ones, else 400. */
export function statusForClientError(err: ParserError, maxUriBytes: number): number {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW': {
      // The request line alone is longer than a target may be: the target is what is too long.
      const lineEnd = err.rawPacket?.indexOf('\r\n') ?? -1;
      return lineEnd === -1 || lineEnd > maxUriBytes ? 414 : 431;
    }
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'HPE_HEADERS_TIMEOUT':
      return 408;
    default:
      return 400;
  }
}

export function answerClientError(
  err: ParserError,
  socket: Socket,
  cacheName: string,
  maxUriBytes: number,
): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = statusForClientError(err, maxUriBytes);
  const reason = REASONS[status] ?? 'Bad Request';
  const body = `${status} ${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n` +
      `Cache-Status: ${cacheName}; detail="${(err.code ?? 'bad-request').toLowerCase()}"\r\nConnection: close\r\n\r\n${body}`,
  );
}
