// PEM files named by the TLS-between-the-parts flags (--control-ca, --nats-ca, a control plane's
// --tls-cert/--tls-key), read and checked at start: a bad file stops the process with a line naming
// the flag, never a handshake failure later.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { UsageError } from './args.ts';

/** PEM CA certificates (one or more); null when the flag is not given. */
export function readCaFlag(flag: string, file: string | undefined): string | null {
  if (file === undefined) return null;
  const pem = readText(flag, file);
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new UsageError(`--${flag}: ${file} holds no PEM certificate`);
  try {
    createSecureContext({ ca: pem });
  } catch (err) {
    throw new UsageError(`--${flag}: ${file}: ${(err as Error).message}`);
  }
  return pem;
}

/** A server's certificate chain and key: both flags or neither; the key must be the certificate's. */
export function readServerPair(
  certFlag: string,
  keyFlag: string,
  certFile: string | undefined,
  keyFile: string | undefined,
): { cert: string; key: string } | null {
  if (certFile === undefined && keyFile === undefined) return null;
  if (certFile === undefined || keyFile === undefined)
    throw new UsageError(`--${certFlag} and --${keyFlag}: give both (a certificate chain and its key)`);
  const cert = readText(certFlag, certFile);
  const key = readText(keyFlag, keyFile);
  try {
    // Parses both and checks that the key is the certificate's (OpenSSL's X509_check_private_key).
    createSecureContext({ cert, key });
  } catch (err) {
    throw new UsageError(
      `--${certFlag}/--${keyFlag}: not a usable certificate and key (${(err as Error).message})`,
    );
  }
  return { cert, key };
}

function readText(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `--${flag}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}
