// The one follower of the event log a node runs: in the node's process with one worker, in the
// primary process with several (edge/multicore/primary.ts fans what it applies out to the workers).
// It registers the node, picks the transport (the control plane's HTTP stream, or NATS JetStream),
// and applies through `apply`.
import type { AddressInfo } from 'node:net';
import { eventSubjectOf } from '../../common/events/nats-names.ts';
import type { FailoverUrls } from '../../common/http/failover-urls.ts';
import type { Logger } from '../../common/log.ts';
import { controlDispatcher } from '../../common/tls/control-trust.ts';
import type { EdgeConfig } from '../config.ts';
import { registeredAdminUrl } from './admin-url.ts';
import { startFollower, type FollowerApply } from './follower.ts';
import { HttpStreamSource } from './http-stream-source.ts';
import { NatsSource } from './nats-source.ts';

export interface NodeFollower {
  readonly appliedSeq: number | null;
  close(): Promise<void>;
}

/** The URL other nodes and the control plane reach this node at. */
export function nodeUrlOf(config: EdgeConfig, address: AddressInfo): string {
  return config.control?.publicUrl ?? `http://${address.address}:${address.port}`;
}

export async function startNodeFollower(
  config: EdgeConfig,
  controlUrls: FailoverUrls,
  address: AddressInfo,
  adminAddress: AddressInfo | null,
  apply: FollowerApply,
  logger: Logger,
): Promise<NodeFollower> {
  const link = config.control as NonNullable<EdgeConfig['control']>;
  const nodeUrl = nodeUrlOf(config, address);
  // --control-ca: the control plane's HTTPS is verified against the cluster CA, for these calls only.
  const dispatcher = controlDispatcher(link.controlCa ?? null);
  const viaDispatcher = dispatcher === undefined ? {} : { dispatcher };
  const source =
    link.nats === null
      ? new HttpStreamSource({ controlUrl: controlUrls, token: link.token, log: logger, ...viaDispatcher })
      : new NatsSource({
          servers: link.nats,
          nodeName: config.nodeName,
          stream: link.natsStream,
          subject: eventSubjectOf(link.natsStream),
          tlsCa: link.natsCa ?? null,
          log: logger,
        });
  const follower = startFollower({
    controlUrl: controlUrls,
    token: link.token,
    node: {
      name: config.nodeName,
      pop: link.pop,
      url: nodeUrl,
      ...(link.role === null ? {} : { role: link.role }),
      admin_url: adminAddress === null ? null : registeredAdminUrl(adminAddress, nodeUrl),
    },
    source,
    ...viaDispatcher,
    stateDir: config.cacheDir,
    apply,
    log: logger,
  });
  await follower.ready;
  return {
    get appliedSeq() {
      return follower.appliedSeq;
    },
    async close() {
      await follower.close();
      await source.close();
      await dispatcher?.close();
    },
  };
}
