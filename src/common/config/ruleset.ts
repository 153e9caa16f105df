// Zone rulesets in Cloudflare's shape (the Rulesets API): one entrypoint ruleset per zone and phase,
// `{rules: [{id?, expression, action, action_parameters?, ratelimit?, description, enabled}]}`.
// Validated here, once, at the API (expressions compiled by lib/rules, errors with their position);
// nodes compile them again on arrival and keep their last good set when that fails.
import { z } from 'zod';
import { checkExpression } from '../../lib/rules/compile.ts';

export const PHASES = [
  'http_request_firewall_custom',
  'http_ratelimit',
  'http_request_firewall_managed',
] as const;
export type Phase = (typeof PHASES)[number];
export const PhaseSchema = z.enum(PHASES);

/** The managed ruleset a zone executes (edge/security/managed/). */
export const MANAGED_RULESET_ID = 'meridian_managed';

/** Rules per phase entrypoint (Cloudflare's default plan limits are of this order). */
export const MAX_RULES_PER_PHASE = 100;

const CHALLENGE_ACTIONS = ['block', 'managed_challenge', 'js_challenge', 'log'] as const;
export const CUSTOM_ACTIONS = [...CHALLENGE_ACTIONS, 'skip'] as const;
export type CustomAction = (typeof CUSTOM_ACTIONS)[number];
export type MitigationAction = (typeof CHALLENGE_ACTIONS)[number];

const expression = z
  .string()
  .min(1)
  .max(4096)
  .superRefine((source, ctx) => {
    const error = checkExpression(source);
    if (error !== null) ctx.addIssue({ code: 'custom', message: error.message });
  })
  .describe("A rules-language expression (a subset of Cloudflare's; docs/security.md).");

const BlockResponseSchema = z
  .object({
    status_code: z.number().int().min(400).max(499).default(403),
    content: z.string().max(10_240).default(''),
    content_type: z.string().min(1).max(100).default('text/plain; charset=utf-8'),
  })
  .strict();

const common = {
  id: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/)
    .optional(),
  description: z.string().max(500).default(''),
  enabled: z.boolean().default(true),
  /** Meridian's addition: evaluate and count the rule, log its decision, but do not enforce it. */
  log_only: z.boolean().default(false),
};

const SkipParametersSchema = z
  .object({
    ruleset: z.literal('current').optional().describe('Skip the remaining rules of this phase.'),
    phases: z
      .array(z.enum(['http_ratelimit', 'http_request_firewall_managed']))
      .max(2)
      .optional(),
    /** Managed phase: per-rule exceptions, {"meridian_managed": ["rule id", …]}. */
    rules: z.record(z.literal(MANAGED_RULESET_ID), z.array(z.string().min(1).max(64)).max(500)).optional(),
  })
  .strict();

export const CustomRuleInputSchema = z
  .object({
    ...common,
    expression,
    action: z.enum(CUSTOM_ACTIONS),
    action_parameters: z
      .union([z.object({ response: BlockResponseSchema }).strict(), SkipParametersSchema])
      .optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    if (rule.action === 'skip') {
      const p = rule.action_parameters as z.infer<typeof SkipParametersSchema> | undefined;
      if (p === undefined || (p.ruleset === undefined && p.phases === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: ['action_parameters'],
          message: 'skip needs {"ruleset": "current"} or {"phases": [...]}',
        });
      }
    } else if (
      rule.action_parameters !== undefined &&
      !(rule.action === 'block' && 'response' in rule.action_parameters)
    ) {
      ctx.addIssue({ code: 'custom', path: ['action_parameters'], message: `not taken by ${rule.action}` });
    }
  });

/** Cloudflare's rate-limit characteristics: what a counter is kept per. */
const CHARACTERISTIC =
  /^(?:ip\.src|http\.host|cf\.colo\.id|http\.request\.headers\["[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}"\])$/;

export const RateLimitRuleInputSchema = z
  .object({
    ...common,
    expression,
    action: z.enum(CHALLENGE_ACTIONS),
    ratelimit: z
      .object({
        characteristics: z
          .array(
            z.string().regex(CHARACTERISTIC, 'ip.src, http.host, cf.colo.id or http.request.headers["name"]'),
          )
          .min(1)
          .max(5),
        period: z.number().int().min(1).max(3600).describe('Seconds (1 … 3600).'),
        requests_per_period: z.number().int().min(1).max(1_000_000),
        mitigation_timeout: z.number().int().min(0).max(86_400).default(0),
        /** Meridian's addition: count across the PoP through Redis when the node has --redis (default true). */
        counting: z.enum(['pop', 'node']).default('pop'),
      })
      .strict(),
  })
  .strict();

const ManagedOverridesSchema = z
  .object({
    paranoia_level: z.number().int().min(1).max(4).default(1),
    action: z
      .enum(CHALLENGE_ACTIONS)
      .optional()
      .describe('Every managed rule takes this action instead of its own.'),
    rules: z
      .array(
        z
          .object({
            id: z.string().min(1).max(64),
            enabled: z.boolean().optional(),
            action: z.enum(CHALLENGE_ACTIONS).optional(),
          })
          .strict(),
      )
      .max(500)
      .optional(),
    categories: z
      .array(
        z
          .object({
            category: z.string().min(1).max(64),
            enabled: z.boolean().optional(),
            action: z.enum(CHALLENGE_ACTIONS).optional(),
          })
          .strict(),
      )
      .max(50)
      .optional(),
  })
  .strict();

export const ManagedRuleInputSchema = z.discriminatedUnion('action', [
  z
    .object({
      ...common,
      expression,
      action: z.literal('execute'),
      action_parameters: z
        .object({ id: z.literal(MANAGED_RULESET_ID), overrides: ManagedOverridesSchema.optional() })
        .strict(),
    })
    .strict(),
  z
    .object({
      ...common,
      expression,
      action: z.literal('skip'),
      action_parameters: SkipParametersSchema,
    })
    .strict(),
]);

export type CustomRuleInput = z.input<typeof CustomRuleInputSchema>;
export type CustomRule = z.output<typeof CustomRuleInputSchema> & {
  id: string;
  version: string;
  last_updated: string;
};
export type RateLimitRule = z.output<typeof RateLimitRuleInputSchema> & {
  id: string;
  version: string;
  last_updated: string;
};
export type ManagedRule = z.output<typeof ManagedRuleInputSchema> & {
  id: string;
  version: string;
  last_updated: string;
};
export type ManagedOverrides = z.output<typeof ManagedOverridesSchema>;
export type RulesetRule = CustomRule | RateLimitRule | ManagedRule;

const bodyOf = <T extends z.ZodType>(rule: T) =>
  z
    .object({
      name: z.string().max(200).optional(),
      description: z.string().max(500).optional(),
      rules: z.array(rule).max(MAX_RULES_PER_PHASE, `at most ${MAX_RULES_PER_PHASE} rules per phase`),
    })
    .strict()
    .superRefine((body, ctx) => {
      const seen = new Set<string>();
      for (const [i, r] of (body.rules as { id?: string }[]).entries()) {
        if (r.id === undefined) continue;
        if (seen.has(r.id))
          ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: 'duplicate rule id' });
        seen.add(r.id);
      }
    });

/** The PUT body of each phase's entrypoint. */
export const RulesetBodySchemas = {
  http_request_firewall_custom: bodyOf(CustomRuleInputSchema),
  http_ratelimit: bodyOf(RateLimitRuleInputSchema),
  http_request_firewall_managed: bodyOf(ManagedRuleInputSchema),
} as const;

/** Largest stored ruleset (JSON bytes); the API refuses a bigger one with 400 on `rules`. */
export const MAX_RULESET_BYTES = 256 * 1024;

/** A zone's entrypoint ruleset of one phase, as stored, served and sent to nodes. */
export interface Ruleset {
  id: string;
  zone_id: string;
  name: string;
  description: string;
  kind: 'zone';
  phase: Phase;
  /** Bumped on every PUT ("1", "2" …, Cloudflare's form). */
  version: string;
  last_updated: string;
  rules: RulesetRule[];
}

export const RulesetSchema = z
  .object({
    id: z.string(),
    zone_id: z.string(),
    name: z.string(),
    description: z.string(),
    kind: z.literal('zone'),
    phase: PhaseSchema,
    version: z.string(),
    last_updated: z.string(),
    rules: z.array(z.record(z.string(), z.unknown())),
  })
  .meta({ id: 'Ruleset' });

/**
 * Zone-wide security switches (rulesets' companions, zone settings in Cloudflare): "under attack"
 * challenges every new client; verified crawlers may skip challenges.
 */
export const SecuritySettingsSchema = z
  .object({
    under_attack: z.boolean().default(false),
    verified_crawlers_skip_challenge: z.boolean().default(false),
    /** How long a passed challenge's clearance cookie lasts (seconds). */
    challenge_ttl: z
      .number()
      .int()
      .min(60)
      .max(86_400 * 30)
      .default(1800),
    /** Proof-of-work difficulty: leading zero bits of SHA-256 a browser must find. */
    challenge_difficulty: z.number().int().min(8).max(24).default(16),
  })
  .strict();
export type SecuritySettings = z.output<typeof SecuritySettingsSchema>;

/** Everything of a zone's edge security, as one statement (the security.replace event, snapshots). */
export interface ZoneSecurity {
  rulesets: Partial<Record<Phase, Ruleset>>;
  settings: SecuritySettings;
}
