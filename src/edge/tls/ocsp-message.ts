// OCSP requests and responses (RFC 6960), encoded and checked with pkijs/asn1js. Pure apart from
// WebCrypto (hashes, signature check). A response is stapled only when it is for the certificate
// asked about (same CertID), says "good", is signed by the issuer (or a responder it certified),
// and is current (thisUpdate ≤ now < nextUpdate): a stale or foreign staple would make a strict
// client (or an OCSP Must-Staple certificate, RFC 7633) fail the handshake.
import type { X509Certificate } from 'node:crypto';
import type * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

export interface OcspQuery {
  /** DER of the OCSPRequest (RFC 6960 §4.1), for POST application/ocsp-request. */
  der: Buffer;
  readonly certId: pkijs.CertID;
  readonly leaf: pkijs.Certificate;
  readonly issuer: pkijs.Certificate;
}

export interface GoodOcspResponse {
  /** The whole OCSPResponse DER: what is stapled. */
  der: Buffer;
  thisUpdateMs: number;
  /** null: the responder gives no nextUpdate (RFC 6960 §2.4: newer information is always available). */
  nextUpdateMs: number | null;
}

export class OcspResponseError extends Error {
  override name = 'OcspResponseError';
}

function pkijsCertificate(cert: X509Certificate): pkijs.Certificate {
  return pkijs.Certificate.fromBER(new Uint8Array(cert.raw));
}

/** The OCSP responder URL a certificate names (Authority Information Access, RFC 5280 §4.2.2.1). */
export function ocspUrlOf(cert: X509Certificate): string | null {
  for (const line of (cert.infoAccess ?? '').split('\n')) {
    const match = /^OCSP - URI:(https?:\/\/\S+)$/.exec(line.trim());
    if (match !== null) return match[1] as string;
  }
  return null;
}

/** An OCSP request for `leaf` (CertID with SHA-1, as RFC 5019 §2.1.1 has responders expect; no nonce: a staple serves many clients). */
export async function buildOcspRequest(leaf: X509Certificate, issuer: X509Certificate): Promise<OcspQuery> {
  const leafCert = pkijsCertificate(leaf);
  const issuerCert = pkijsCertificate(issuer);
  const request = new pkijs.OCSPRequest();
  await request.createForCertificate(leafCert, { hashAlgorithm: 'SHA-1', issuerCertificate: issuerCert });
  const certId = request.tbsRequest.requestList[0]?.reqCert;
  if (certId === undefined) throw new Error('pkijs built an OCSP request without a CertID');
  return {
    der: Buffer.from(request.toSchema(true).toBER(false)),
    certId,
    leaf: leafCert,
    issuer: issuerCert,
  };
}

/** Checks a responder's answer to `query`; the response to staple, or an OcspResponseError saying why not. */
export async function checkOcspResponse(
  query: OcspQuery,
  der: Uint8Array,
  nowMs: number,
): Promise<GoodOcspResponse> {
  let response: pkijs.OCSPResponse;
  try {
    response = pkijs.OCSPResponse.fromBER(der);
  } catch (err) {
    throw new OcspResponseError(`not an OCSP response (${(err as Error).message})`);
  }
  const status = response.responseStatus.valueBlock.valueDec;
  // RFC 6960 §4.2.1: 0 successful, 1 malformedRequest, 2 internalError, 3 tryLater, 5 sigRequired, 6 unauthorized.
  if (status !== 0) throw new OcspResponseError(`responder status ${status} (not successful)`);
  const bytes = response.responseBytes;
  if (bytes === undefined || bytes.responseType !== '1.3.6.1.5.5.7.48.1.1') {
    throw new OcspResponseError('no basic OCSP response (id-pkix-ocsp-basic)');
  }
  const basic = pkijs.BasicOCSPResponse.fromBER(bytes.response.valueBlock.valueHexView);
  const single = basic.tbsResponseData.responses.find((r) => r.certID.isEqual(query.certId));
  if (single === undefined) throw new OcspResponseError('the response is not for this certificate');
  const tag = (single.certStatus as asn1js.BaseBlock).idBlock.tagNumber;
  if (tag !== 0)
    throw new OcspResponseError(tag === 1 ? 'certificate revoked' : 'certificate status unknown');
  const thisUpdateMs = single.thisUpdate.getTime();
  const nextUpdateMs = single.nextUpdate?.getTime() ?? null;
  if (thisUpdateMs > nowMs + 5 * 60_000) throw new OcspResponseError('thisUpdate is in the future');
  if (nextUpdateMs !== null && nextUpdateMs <= nowMs) throw new OcspResponseError('nextUpdate has passed');
  let signed: boolean;
  try {
    signed = await basic.verify({ trustedCerts: [query.issuer] });
  } catch (err) {
    throw new OcspResponseError(`signature check failed (${(err as Error).message})`);
  }
  if (!signed) throw new OcspResponseError('bad signature');
  return { der: Buffer.from(der), thisUpdateMs, nextUpdateMs };
}
