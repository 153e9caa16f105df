// meridian edge flags for TLS to upstreams: the standalone origin's verification, SNI and client
// certificate (authenticated origin pulls), and the cluster CA that peers' certificates chain to.
// PEM files are read and checked here, at start: a bad file stops the node with a message naming
// the flag, never a handshake failure on the first request.
import { OriginTlsSchema } from '../../common/config/zone.ts';
import type { UpstreamTlsConfig } from '../../edge/config.ts';
import { UsageError } from '../args.ts';
import { readCaFlag, readServerPair } from '../tls-files.ts';

export const UPSTREAM_TLS_HELP = `TLS to origins and peers:
  --origin-ca FILE          PEM CAs that verify an https:// --origin (default: the system's)
  --origin-servername NAME  name sent in SNI and checked in the origin's certificate (default: its host)
  --origin-insecure         accept any origin certificate (testing only; logged)
  --origin-client-cert FILE client certificate chain (PEM) presented to the origin (authenticated
                            origin pulls); with --origin-client-key FILE
  --peer-ca FILE            PEM CAs that issued the cluster's node certificates: peers whose
                            --public-url is https:// are verified against them (managed mode)
`;

export const UPSTREAM_TLS_OPTIONS = {
  'origin-ca': { type: 'string' },
  'origin-servername': { type: 'string' },
  'origin-insecure': { type: 'boolean', default: false },
  'origin-client-cert': { type: 'string' },
  'origin-client-key': { type: 'string' },
  'peer-ca': { type: 'string' },
} as const;

export interface UpstreamTlsValues {
  'origin-ca'?: string;
  'origin-servername'?: string;
  'origin-insecure'?: boolean;
  'origin-client-cert'?: string;
  'origin-client-key'?: string;
  'peer-ca'?: string;
}

/** `origin`: the standalone origin (null in managed mode, where zones carry these settings). */
export function parseUpstreamTls(values: UpstreamTlsValues, origin: URL | null): UpstreamTlsConfig {
  const named =
    (['origin-ca', 'origin-servername', 'origin-client-cert', 'origin-client-key'] as const).find(
      (flag) => values[flag] !== undefined,
    ) ?? (values['origin-insecure'] === true ? 'origin-insecure' : undefined);
  if (named !== undefined && origin === null)
    throw new UsageError(`--${named}: standalone mode only (managed zones set origin tls in the API)`);
  if (named !== undefined && origin?.protocol !== 'https:')
    throw new UsageError(`--${named}: needs an https:// --origin`);
  if (values['peer-ca'] !== undefined && origin !== null)
    throw new UsageError('--peer-ca: managed mode only (standalone nodes have no peers)');
  return {
    origin: origin?.protocol === 'https:' ? originTls(values) : null,
    originClientCert: clientCert(values),
    peerCa: values['peer-ca'] === undefined ? null : readCaFlag('peer-ca', values['peer-ca']),
  };
}

function originTls(values: UpstreamTlsValues): UpstreamTlsConfig['origin'] {
  const parsed = OriginTlsSchema.safeParse({
    ...(values['origin-ca'] === undefined ? {} : { ca: readCaFlag('origin-ca', values['origin-ca']) }),
    ...(values['origin-servername'] === undefined ? {} : { servername: values['origin-servername'] }),
    verify: values['origin-insecure'] !== true,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const flag = issue?.path[0] === 'servername' ? 'origin-servername' : 'origin-ca';
    throw new UsageError(`--${flag}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

function clientCert(values: UpstreamTlsValues): UpstreamTlsConfig['originClientCert'] {
  const certFile = values['origin-client-cert'];
  const keyFile = values['origin-client-key'];
  if (certFile === undefined && keyFile === undefined) return null;
  if (certFile === undefined) throw new UsageError('--origin-client-key: needs --origin-client-cert');
  if (keyFile === undefined) throw new UsageError('--origin-client-cert: needs --origin-client-key');
  return readServerPair('origin-client-cert', 'origin-client-key', certFile, keyFile);
}
