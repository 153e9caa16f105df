// /client/v4/audit: every mutating call, who made it, when and from where.
import { z } from 'zod';
import type { ControlStore } from '../store/types.ts';
import { ok } from './envelope.ts';
import { pageOf, resultInfo, type Router } from './router.ts';

const AuditSchema = z.object({
  id: z.number(),
  at: z.string(),
  token_id: z.string().nullable(),
  token_name: z.string(),
  ip: z.string(),
  action: z.string(),
  resource_id: z.string().nullable(),
  details: z.unknown(),
});

export function auditRoutes(router: Router, store: ControlStore): void {
  router.add(
    {
      method: 'GET',
      path: '/client/v4/audit',
      summary: 'Read the audit log, newest first',
      scope: 'audit:read',
      tag: 'audit',
      result: z.array(AuditSchema),
      queryParams: ['page', 'per_page'],
    },
    async ({ reply, query }) => {
      const page = pageOf(query);
      const { items, total } = await store.listAudit(page);
      return ok(reply, items, 200, resultInfo(page, items.length, total));
    },
  );
}
