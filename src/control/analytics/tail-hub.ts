// Live tail (`meridian tail`): clients subscribe to a zone's requests; nodes learn which zones are
// tailed from their analytics receipts and then post those zones' requests every 500 ms
// (edge/analytics/analytics.ts), which fan out here to every subscriber whose filter matches.
// In memory, per control-plane replica: a node posts to the replica it talks to, so with several
// replicas a tail sees the nodes attached to its own (docs/analytics.md says so).

export interface TailRecord {
  zone_id: string;
  status: number;
  pop: string | null;
  [field: string]: unknown;
}

export interface TailFilter {
  /** "5xx", "404", ... : a class (first digit) or one code; null: any. */
  status: string | null;
  pop: string | null;
}

interface Subscriber {
  zoneId: string;
  filter: TailFilter;
  send(record: TailRecord): void;
}

export class TailHub {
  readonly #subscribers = new Set<Subscriber>();

  subscribe(zoneId: string, filter: TailFilter, send: (record: TailRecord) => void): () => void {
    const sub: Subscriber = { zoneId, filter, send };
    this.#subscribers.add(sub);
    return () => this.#subscribers.delete(sub);
  }

  /** Zone ids with at least one subscriber. */
  tailedZones(): string[] {
    return [...new Set([...this.#subscribers].map((s) => s.zoneId))];
  }

  publish(records: readonly TailRecord[]): void {
    if (this.#subscribers.size === 0) return;
    for (const record of records) {
      for (const sub of this.#subscribers) {
        if (sub.zoneId === record.zone_id && matches(sub.filter, record)) sub.send(record);
      }
    }
  }
}

export function matches(filter: TailFilter, record: TailRecord): boolean {
  if (filter.pop !== null && record.pop !== filter.pop) return false;
  const status = filter.status;
  if (status === null) return true;
  if (/^[1-5]xx$/i.test(status)) return Math.floor(record.status / 100) === Number(status[0]);
  return String(record.status) === status;
}
