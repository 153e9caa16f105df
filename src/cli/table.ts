// Table output for list verbs: a header row, then one row per item, columns padded to their widest
// cell, so that `meridian zones list` reads like `kubectl get` and `--json` gives the raw result.

/** Writes a table (header row first) to stdout; an empty list prints the header and "(none)". */
export function printTable(headers: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  let text = `${line(headers)}\n`;
  for (const row of rows) text += `${line(row)}\n`;
  if (rows.length === 0) text += '(none)\n';
  process.stdout.write(text);
}
