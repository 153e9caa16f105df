// Starting a node's analytics (edge.ts calls these): the per-zone counters and their shipper in
// managed mode, the access log when --access-log is given, the live tail, and their /metrics.
import type { Logger } from '../../common/log.ts';
import type { FailoverUrls } from '../../common/http/failover-urls.ts';
import { controlDispatcher } from '../../common/tls/control-trust.ts';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { EdgeConfig } from '../config.ts';
import { ControlClient } from '../sync/control-client.ts';
import { AccessLog } from './access-log.ts';
import { EdgeAnalytics, TailShipper } from './analytics.ts';
import { AnalyticsCollector } from './collector.ts';
import { openCountryLookup } from './geoip.ts';
import { AnalyticsShipper } from './shipper.ts';

/**
 * Analytics counters in managed mode (shipped to the control plane), the access log when
 * --access-log is given; null when neither (the log step then skips analytics entirely).
 */
export async function startAnalytics(config: EdgeConfig, logger: Logger): Promise<EdgeAnalytics | null> {
  const accessLog =
    config.accessLog === undefined || config.accessLog === null
      ? null
      : await new AccessLog({ ...config.accessLog, log: logger }).open();
  const collector = config.control === null || config.analytics === false ? null : new AnalyticsCollector();
  if (accessLog === null && collector === null) return null;
  const files = config.geoipFiles ?? [];
  return new EdgeAnalytics({
    node: config.nodeName,
    pop: config.control?.pop ?? null,
    collector,
    accessLog,
    countryOf: files.length === 0 ? null : await openCountryLookup(files),
  });
}

export function shipAnalytics(
  registry: Registry,
  analytics: EdgeAnalytics,
  config: EdgeConfig,
  controlUrls: FailoverUrls,
  isKnownZone: (zoneId: string) => boolean,
  logger: Logger,
): { close(): Promise<void> } {
  const link = config.control as NonNullable<EdgeConfig['control']>;
  const client = new ControlClient({
    controlUrl: controlUrls,
    token: link.token,
    ...viaDispatcher(controlDispatcher(link.controlCa ?? null)),
  });
  const tail = new TailShipper(analytics, client, config.nodeName, logger);
  const shipper = new AnalyticsShipper({
    collector: analytics.collector as AnalyticsCollector,
    client,
    node: config.nodeName,
    pop: link.pop,
    ...(config.analyticsIntervalMs === undefined ? {} : { intervalMs: config.analyticsIntervalMs }),
    isKnownZone,
    log: logger,
    onTails: (zoneIds) => analytics.setTailed(zoneIds),
  });
  shipper.start();
  tail.start();
  trackAnalytics(registry, shipper, analytics);
  return {
    async close() {
      tail.stop();
      await shipper.close();
    },
  };
}

/** The shipper's and the access log's numbers, read when /metrics is scraped. */
function trackAnalytics(registry: Registry, shipper: AnalyticsShipper, analytics: EdgeAnalytics): void {
  const registers = [registry];
  new Gauge({
    name: 'meridian_edge_analytics_batches_queued',
    help: 'Analytics batches waiting to reach the control plane (kept while it is away).',
    registers,
    collect() {
      this.set(shipper.queued);
    },
  });
  const counted = { sent: 0, dropped: 0, refused: 0 };
  new Counter({
    name: 'meridian_edge_analytics_batches_total',
    help: 'Analytics batches by outcome: sent (acknowledged), dropped (queue full), refused (4xx).',
    labelNames: ['outcome'],
    registers,
    collect() {
      for (const outcome of ['sent', 'dropped', 'refused'] as const) {
        const delta = shipper[outcome] - counted[outcome];
        if (delta > 0) this.inc({ outcome }, delta);
        counted[outcome] = shipper[outcome];
      }
    },
  });
  let lines = 0;
  new Counter({
    name: 'meridian_edge_access_log_lines_total',
    help: 'Access log lines written (after per-zone sampling).',
    registers,
    collect() {
      const now = analytics.accessLog?.lines ?? 0;
      if (now > lines) this.inc(now - lines);
      lines = now;
    },
  });
}

function viaDispatcher(dispatcher: ReturnType<typeof controlDispatcher>): {
  dispatcher?: NonNullable<typeof dispatcher>;
} {
  return dispatcher === undefined ? {} : { dispatcher };
}
