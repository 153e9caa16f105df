// Splitting a byte stream of newline-delimited JSON into lines, chunk by chunk: a line may arrive in
// pieces, several may arrive in one chunk. Pure (no I/O), so the corner cases are table-tested.

export class LineTooLongError extends Error {
  override name = 'LineTooLongError';
}

export class LineSplitter {
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });
  readonly #maxLineBytes: number;
  #partial = '';

  /** A line longer than `maxLineBytes` (approximately: counted in UTF-16 units) throws LineTooLongError. */
  constructor(maxLineBytes = 16 * 1024 * 1024) {
    this.#maxLineBytes = maxLineBytes;
  }

  /** The complete, non-blank lines that `chunk` finishes (without their "\n" or "\r\n"). */
  push(chunk: Uint8Array): string[] {
    // stream: true keeps a multi-byte character split across chunks for the next call.
    const text = this.#partial + this.#decoder.decode(chunk, { stream: true });
    const parts = text.split('\n');
    this.#partial = parts.pop() ?? '';
    if (this.#partial.length > this.#maxLineBytes) {
      throw new LineTooLongError(`NDJSON line longer than ${this.#maxLineBytes} bytes`);
    }
    const lines: string[] = [];
    for (const part of parts) {
      const line = part.endsWith('\r') ? part.slice(0, -1) : part;
      if (line.trim() !== '') lines.push(line);
    }
    return lines;
  }
}
