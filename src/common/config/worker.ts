// Edge workers as the control plane stores them and the event log carries them: a script (an ES
// module), its declared bindings, and the routes that send requests to it. Shared by the API's
// validation, the store, and the edge that runs them.
import { z } from 'zod';

/** Uncompressed module source; under the API's 1 MiB JSON body limit with room for escaping. */
export const MAX_SCRIPT_BYTES = 512 * 1024;
export const MAX_BINDINGS = 64;

const BindingName = z
  .string()
  .regex(/^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/, 'a JavaScript identifier of at most 64 characters');

export const BindingInputSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('plain_text'), name: BindingName, text: z.string().max(65536) }).strict(),
  z.object({ type: z.literal('secret_text'), name: BindingName, text: z.string().max(65536) }).strict(),
  z
    .object({ type: z.literal('kv_namespace'), name: BindingName, namespace_id: z.string().min(1).max(64) })
    .strict(),
]);
export type BindingInput = z.infer<typeof BindingInputSchema>;

/** A binding as nodes receive it: secrets' text included (nodes fetch these with their node token). */
export type Binding = BindingInput;

export const ScriptNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, "-" and "_", at most 63');

/** One version of a script, what a node compiles and runs. */
export interface WorkerScript {
  zone_id: string;
  name: string;
  /** 1, 2, 3 … per script; rollback makes the previous version current again as a new version. */
  version: number;
  /** sha-256 of the source, hex. */
  etag: string;
  source: string;
  bindings: Binding[];
  created_at: string;
}

/** What the API shows of a script (secrets' text never leaves the control plane this way). */
export interface WorkerScriptMeta {
  zone_id: string;
  name: string;
  version: number;
  etag: string;
  size: number;
  bindings: ({ type: 'secret_text'; name: string } | Exclude<Binding, { type: 'secret_text' }>)[];
  created_at: string;
}

export const RoutePatternSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(
    /^(\*\.)?[a-z0-9.-]+(\/[^\s*]*\*?)?$/,
    'host/path with an optional leading "*." and one trailing "*", e.g. shop.example/api/*',
  );

export const RouteInputSchema = z
  .object({
    pattern: RoutePatternSchema,
    script: ScriptNameSchema,
    /** The worker throws or exceeds a limit: the request goes on to the cache and origin instead of a 5xx. */
    fail_open: z.boolean().default(false),
  })
  .strict();
export type RouteInput = z.infer<typeof RouteInputSchema>;

export interface WorkerRoute extends RouteInput {
  id: string;
  zone_id: string;
  created_at: string;
}
