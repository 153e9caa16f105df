// A zone's certificates, shaped like Cloudflare's v4 API:
//   /client/v4/zones/{id}/custom_certificates       server certificates chosen by SNI (or ACME-managed)
//   /client/v4/zones/{id}/origin_tls_client_auth    the zone's client certificate to origins (mTLS)
// Bodies carry PEM; answers carry CertificateMeta only: no route ever returns a private key.
import { z } from 'zod';
import type { CertificateMeta } from '../../common/config/certificate.ts';
import type { Zone } from '../../common/config/zone.ts';
import { CertificateInputError, inspectUpload } from '../certificates/inspect.ts';
import type { Actor, CertificateRecordInput, ControlStore } from '../store/types.ts';
import { badRequest, notFound, ok } from './envelope.ts';
import type { Router } from './router.ts';

/** Orders ACME certificates (the ACME module); absent: the control plane has no ACME directory. */
export interface AcmeHook {
  /** Starts an order for the zone's hostnames; answers the certificate (status pending). */
  order(zone: Zone, actor: Actor): Promise<CertificateMeta>;
  /** A zone was created or changed through the API (settings.acme may have turned on). */
  zoneSaved?(zone: Zone): void;
}

const Pem = z.string().min(1).max(100_000);

const CreateSchema = z
  .object({
    /** custom (default): certificate and private_key given. acme: issued by the control plane. */
    type: z.enum(['custom', 'acme']).optional(),
    certificate: Pem.optional(),
    private_key: Pem.optional(),
  })
  .strict();
const UploadSchema = z.object({ certificate: Pem, private_key: Pem }).strict();
/** PATCH: a new chain, and a new key unless the stored one still matches. */
const PatchSchema = z.object({ certificate: Pem, private_key: Pem.optional() }).strict();

export const CertificateMetaSchema = z.object({
  id: z.string(),
  zone_id: z.string(),
  usage: z.enum(['server', 'origin_client']),
  type: z.enum(['custom', 'acme']),
  hosts: z.array(z.string()),
  issuer: z.string(),
  signature: z.string(),
  serial_number: z.string(),
  fingerprint_sha256: z.string(),
  not_before: z.string(),
  expires_on: z.string(),
  status: z.enum(['active', 'pending', 'expired', 'error']),
  uploaded_on: z.string(),
  modified_on: z.string(),
});

export interface CertificateRouteOptions {
  acme: AcmeHook | null;
  now?: () => Date;
}

export function certificateRoutes(
  router: Router,
  store: ControlStore,
  options: CertificateRouteOptions,
): void {
  const now = options.now ?? (() => new Date());
  const base = '/client/v4/zones/:zone_id/custom_certificates';
  const tag = 'certificates';
  const zoneOf = async (id: string): Promise<Zone> => {
    const zone = await store.getZone(id);
    if (zone === undefined) throw notFound('zone');
    return zone;
  };
  const certOf = async (
    zoneId: string,
    certId: string,
    usage: CertificateMeta['usage'],
  ): Promise<CertificateMeta> => {
    const cert = await store.getCertificate(certId);
    if (cert === undefined || cert.zone_id !== zoneId || cert.usage !== usage) throw notFound('certificate');
    return cert;
  };
  const inspect = (
    zone: Zone,
    usage: CertificateMeta['usage'],
    certificate: string,
    key: string,
  ): CertificateRecordInput =>
    checked(() =>
      inspectUpload(certificate, key, {
        usage,
        zoneHostnames: usage === 'server' ? zone.hostnames : null,
        now: now(),
      }),
    );
  const live = (meta: CertificateMeta): CertificateMeta => withLiveStatus(meta, now());

  router.add(
    {
      method: 'GET',
      path: base,
      summary: "List a zone's certificates",
      scope: 'zones:read',
      tag,
      result: z.array(CertificateMetaSchema),
    },
    async ({ reply, params }) => {
      const zone = await zoneOf(params.zone_id as string);
      return ok(reply, (await store.listCertificates(zone.id, 'server')).map(live));
    },
  );
  router.add(
    {
      method: 'POST',
      path: base,
      summary:
        'Upload a certificate ({certificate, private_key} PEM), or order one over ACME ({"type": "acme"})',
      scope: 'zones:write',
      tag,
      body: CreateSchema,
      result: CertificateMetaSchema,
    },
    async ({ reply, params, body, actor }) => {
      const zone = await zoneOf(params.zone_id as string);
      if (body.type === 'acme') {
        for (const field of ['certificate', 'private_key'] as const)
          if (body[field] !== undefined) throw badRequest(`${field}: not accepted with "type": "acme"`);
        if (options.acme === null)
          throw badRequest('type: ACME is not configured on this control plane (--acme-directory)');
        return ok(reply, live(await options.acme.order(zone, actor)), 201);
      }
      if (body.certificate === undefined) throw badRequest('certificate: required (PEM chain, leaf first)');
      if (body.private_key === undefined) throw badRequest('private_key: required (PEM)');
      const input = inspect(zone, 'server', body.certificate, body.private_key);
      return ok(reply, live(await created(store.createCertificate(zone.id, input, actor))), 201);
    },
  );
  router.add(
    {
      method: 'GET',
      path: `${base}/:cert_id`,
      summary: 'Get a certificate',
      scope: 'zones:read',
      tag,
      result: CertificateMetaSchema,
    },
    async ({ reply, params }) =>
      ok(reply, live(await certOf(params.zone_id as string, params.cert_id as string, 'server'))),
  );
  router.add(
    {
      method: 'PATCH',
      path: `${base}/:cert_id`,
      summary: 'Replace a certificate (new chain; new key, or the stored one if it matches)',
      scope: 'zones:write',
      tag,
      body: PatchSchema,
      result: CertificateMetaSchema,
    },
    async ({ reply, params, body, actor }) => {
      const zone = await zoneOf(params.zone_id as string);
      const cert = await certOf(zone.id, params.cert_id as string, 'server');
      if (cert.type === 'acme')
        throw badRequest(
          'type: an ACME certificate is renewed by the control plane; delete it to upload your own',
        );
      const key = body.private_key ?? (await store.getCertificateMaterial(cert.id))?.material?.private_key;
      if (key === undefined) throw badRequest('private_key: required');
      const input = inspect(zone, 'server', body.certificate, key);
      const replaced = await store.replaceCertificate(cert.id, input, actor);
      if (replaced === undefined) throw notFound('certificate');
      return ok(reply, live(replaced));
    },
  );
  router.add(
    {
      method: 'DELETE',
      path: `${base}/:cert_id`,
      summary: 'Delete a certificate',
      scope: 'zones:write',
      tag,
      result: z.object({ id: z.string() }),
    },
    async ({ reply, params, actor }) => {
      const cert = await certOf(params.zone_id as string, params.cert_id as string, 'server');
      if ((await store.deleteCertificate(cert.id, actor)) === undefined) throw notFound('certificate');
      return ok(reply, { id: cert.id });
    },
  );
  clientCertificateRoutes(router, store, { zoneOf, certOf, inspect, live });
}

interface Helpers {
  zoneOf(id: string): Promise<Zone>;
  certOf(zoneId: string, certId: string, usage: CertificateMeta['usage']): Promise<CertificateMeta>;
  inspect(
    zone: Zone,
    usage: CertificateMeta['usage'],
    certificate: string,
    key: string,
  ): CertificateRecordInput;
  live(meta: CertificateMeta): CertificateMeta;
}

/** Authenticated origin pulls: the certificate nodes present to the zone's https origins. */
function clientCertificateRoutes(router: Router, store: ControlStore, h: Helpers): void {
  const base = '/client/v4/zones/:zone_id/origin_tls_client_auth';
  const tag = 'certificates';
  router.add(
    {
      method: 'GET',
      path: base,
      summary: "List the zone's client certificates for authenticated origin pulls",
      scope: 'zones:read',
      tag,
      result: z.array(CertificateMetaSchema),
    },
    async ({ reply, params }) => {
      const zone = await h.zoneOf(params.zone_id as string);
      return ok(reply, (await store.listCertificates(zone.id, 'origin_client')).map(h.live));
    },
  );
  router.add(
    {
      method: 'POST',
      path: base,
      summary: 'Upload a client certificate for authenticated origin pulls ({certificate, private_key} PEM)',
      scope: 'zones:write',
      tag,
      body: UploadSchema,
      result: CertificateMetaSchema,
    },
    async ({ reply, params, body, actor }) => {
      const zone = await h.zoneOf(params.zone_id as string);
      const input = h.inspect(zone, 'origin_client', body.certificate, body.private_key);
      return ok(reply, h.live(await created(store.createCertificate(zone.id, input, actor))), 201);
    },
  );
  router.add(
    {
      method: 'GET',
      path: `${base}/:cert_id`,
      summary: 'Get a client certificate',
      scope: 'zones:read',
      tag,
      result: CertificateMetaSchema,
    },
    async ({ reply, params }) =>
      ok(reply, h.live(await h.certOf(params.zone_id as string, params.cert_id as string, 'origin_client'))),
  );
  router.add(
    {
      method: 'DELETE',
      path: `${base}/:cert_id`,
      summary: 'Delete a client certificate',
      scope: 'zones:write',
      tag,
      result: z.object({ id: z.string() }),
    },
    async ({ reply, params, actor }) => {
      const cert = await h.certOf(params.zone_id as string, params.cert_id as string, 'origin_client');
      if ((await store.deleteCertificate(cert.id, actor)) === undefined) throw notFound('certificate');
      return ok(reply, { id: cert.id });
    },
  );
}

/** An upload's checks as a 400 naming the field. */
function checked<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof CertificateInputError) throw badRequest(`${err.field}: ${err.message}`);
    throw err;
  }
}

/** The zone went away between the check and the write. */
async function created(pending: Promise<CertificateMeta | undefined>): Promise<CertificateMeta> {
  const meta = await pending;
  if (meta === undefined) throw notFound('zone');
  return meta;
}

/** A stored `active` certificate past its expiry reads as `expired`. */
export function withLiveStatus(meta: CertificateMeta, now: Date): CertificateMeta {
  return meta.status === 'active' && Date.parse(meta.expires_on) <= now.getTime()
    ? { ...meta, status: 'expired' }
    : meta;
}
