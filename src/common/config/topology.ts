// PoPs and nodes: where the CDN runs. The control plane keeps the registry; edges and DNS read it.
import { z } from 'zod';

export const PopInputSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and "-" only'),
    city: z.string().min(1).max(100),
    latitude: z.number().min(-90).max(90),
    longitude: z.number().min(-180).max(180),
    role: z.enum(['edge', 'shield']).default('edge'),
    capacity: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('New users per second DNS may send before the PoP counts as full (0: unlimited).'),
  })
  .strict();

export type PopInput = z.infer<typeof PopInputSchema>;
export interface Pop extends PopInput {
  /**
   * Taken out of service by the operator (PATCH /client/v4/pops/{name}): its anycast agent withdraws
   * its prefixes and DNS does not answer with it; its nodes keep serving. Absent (false) in data
   * from a control plane older than migration 0010.
   */
  drained?: boolean;
  created_at: string;
}

export interface NodeInfo {
  /** Unique node name, e.g. "nyc-1". */
  name: string;
  pop: string;
  /** Where the node serves HTTP (clients and the internal hop). */
  url: string;
  /** Health and metrics listener. */
  admin_url: string | null;
  status: 'up' | 'down';
  last_heartbeat_at: string | null;
  /** The last event sequence the node applied. */
  applied_seq: number;
  registered_at: string;
}
