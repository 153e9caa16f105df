// Tokens read from files (--token-file, --admin-token-file): what compose secrets and systemd's
// LoadCredential= hand a process, so that a secret is neither on the command line (ps) nor in the
// environment of every child.
import { readFileSync } from 'node:fs';
import { UsageError } from './args.ts';

/** The file's first line, trimmed; an error naming the flag when it is unreadable or empty. */
export function readSecretFile(flag: string, file: string | undefined): string | null {
  if (file === undefined) return null;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `--${flag}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const secret = text.split('\n')[0]?.trim() ?? '';
  if (secret === '')
    throw new UsageError(`--${flag}: ${file} is empty (expected the token on its first line)`);
  return secret;
}
