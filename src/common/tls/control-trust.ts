// TLS between the parts: how a node, `meridian dns` or a control plane trusts the HTTPS, NATS and
// PostgreSQL servers it talks to. A private CA is given per connection (--control-ca, --nats-ca, or a
// `sslrootcert=` in the --db URL); NODE_EXTRA_CA_CERTS adds one to every connection of the process.
import { Agent, type Dispatcher } from 'undici';

/** OpenSSL's verification failures as Node reports them (`err.code`): the server's chain is not trusted. */
const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * An undici dispatcher for the control plane's HTTPS: `ca` (PEM) replaces the system roots for these
 * connections only (a private cluster CA must not become trusted for origins or ACME). Null: the
 * global dispatcher (system roots plus NODE_EXTRA_CA_CERTS).
 */
export function controlDispatcher(ca: string | null): Dispatcher | undefined {
  return ca === null ? undefined : new Agent({ connect: { ca } });
}

/**
 * A certificate-verification failure reaching `url`, rewritten to say what to do; any other error as
 * it is. `flag` names the option that gives the CA (--control-ca).
 */
export function explainUntrusted(err: unknown, url: string, flag: string): unknown {
  const code = codeOf(err);
  if (code === undefined || !UNTRUSTED_CODES.has(code)) return err;
  const reason = (causeOf(err) as Error).message;
  const wrapped = new Error(
    `the certificate of ${url} is not trusted (${code}: ${reason}); give ${flag} FILE with the CA ` +
      'that issued it (or NODE_EXTRA_CA_CERTS), and check that the URL names a host the certificate covers',
    { cause: err },
  );
  (wrapped as Error & { code: string }).code = code;
  return wrapped;
}

/** undici wraps socket errors in `cause` (fetch) or throws them as they are (request). */
function causeOf(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && UNTRUSTED_CODES.has(code)) return err;
  const cause = (err as { cause?: unknown } | null)?.cause;
  return cause === undefined ? err : causeOf(cause);
}

function codeOf(err: unknown): string | undefined {
  const code = (causeOf(err) as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** NATS connect options: a CA means TLS is required (as a tls:// URL does); none leaves it to the URL. */
export function natsTls(ca: string | null | undefined): { tls?: { ca: string } } {
  return ca === null || ca === undefined ? {} : { tls: { ca } };
}
