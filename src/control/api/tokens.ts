// /client/v4/tokens: API tokens. The secret is returned once, as result.value.
import { z } from 'zod';
import type { ControlStore, Scope } from '../store/types.ts';
import { hashSecret, newTokenSecret, SCOPES } from './auth.ts';
import { forbidden, notFound, ok } from './envelope.ts';
import { pageOf, resultInfo, type Router } from './router.ts';

const CreateTokenSchema = z
  .object({
    name: z.string().min(1).max(100),
    scopes: z
      .array(z.enum(SCOPES as [Scope, ...Scope[]]))
      .min(1)
      .max(SCOPES.length),
    zones: z
      .array(z.string().regex(/^[0-9a-f]{32}$/, 'a zone id'))
      .min(1)
      .max(1000)
      .optional(),
  })
  .strict();
const TokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  zones: z.array(z.string()).nullable(),
  created_at: z.string(),
  last_used_at: z.string().nullable(),
});

export function tokenRoutes(router: Router, store: ControlStore): void {
  router.add(
    {
      method: 'POST',
      path: '/client/v4/tokens',
      summary: 'Create a token; its secret is in result.value, shown once',
      scope: 'tokens:write',
      tag: 'tokens',
      body: CreateTokenSchema,
      result: TokenSchema.extend({ value: z.string() }),
    },
    async ({ reply, body, token, actor }) => {
      // A token cannot mint a more powerful one.
      const granted = new Set(token.scopes);
      const admin = granted.has('admin');
      for (const scope of body.scopes)
        if (!admin && !granted.has(scope))
          throw forbidden(`scopes: cannot grant ${scope}, which this token lacks`);
      if (token.zones !== null && body.zones === undefined)
        throw forbidden('zones: a zone-limited token can only create zone-limited tokens');
      for (const zone of body.zones ?? [])
        if (token.zones !== null && !token.zones.includes(zone))
          throw forbidden(`zones: ${zone} is outside this token's zones`);
      for (const zone of body.zones ?? [])
        if ((await store.getZone(zone)) === undefined) throw notFound(`zone ${zone}`);
      const value = newTokenSecret();
      const record = await store.createToken(
        { name: body.name, secretHash: hashSecret(value), scopes: body.scopes, zones: body.zones ?? null },
        actor,
      );
      return ok(reply, { ...record, value }, 201);
    },
  );
  router.add(
    {
      method: 'GET',
      path: '/client/v4/tokens',
      summary: 'List tokens (never their secrets)',
      scope: 'tokens:write',
      tag: 'tokens',
      result: z.array(TokenSchema),
      queryParams: ['page', 'per_page'],
    },
    async ({ reply, query }) => {
      const page = pageOf(query);
      const { items, total } = await store.listTokens(page);
      return ok(reply, items, 200, resultInfo(page, items.length, total));
    },
  );
  router.add(
    {
      method: 'DELETE',
      path: '/client/v4/tokens/:token_id',
      summary: 'Revoke a token',
      scope: 'tokens:write',
      tag: 'tokens',
      result: z.object({ id: z.string() }),
    },
    async ({ reply, params, actor }) => {
      if (!(await store.deleteToken(params.token_id as string, actor))) throw notFound('token');
      return ok(reply, { id: params.token_id });
    },
  );
}
