import { Events } from '@swarmboot/contracts';
import type { EventBus, Logger } from '@swarmboot/kit';
import type { NodeLifecycle } from '../node-lifecycle.js';

/** Durable consumer name: scheduler replicas share it, so each event is handled by one of them. */
export const CONSUMER = 'scheduler';

/**
 * Feeds the JetStream events that drive node states into the node life cycle: `leaseGranted` (→ dhcp),
 * `tftpTransferCompleted` (→ booting), `tftpTransferFailed` (a boot-phase failure the admission
 * controller counts), `nodeFailureClassified` (the log sink named a node's failure → failed) and
 * `powerFailed` (the BMC of a node waiting for its power-on failed → failed with the BMC's error).
 * A handler that throws (Redis down) gets the event redelivered by the bus. Returns a stop function.
 */
export async function startEventConsumers(
  bus: EventBus,
  lifecycle: Pick<NodeLifecycle, 'onLeaseGranted' | 'onTftpTransferCompleted' | 'onTftpTransferFailed' | 'onFailureClassified' | 'onPowerFailed'>,
  log: Logger,
): Promise<() => Promise<void>> {
  const stops = [
    await bus.consume(Events.leaseGranted, CONSUMER, (lease) => lifecycle.onLeaseGranted(lease)),
    await bus.consume(Events.tftpTransferCompleted, CONSUMER, (t) => lifecycle.onTftpTransferCompleted(t)),
    await bus.consume(Events.tftpTransferFailed, CONSUMER, (t) => lifecycle.onTftpTransferFailed(t)),
    await bus.consume(Events.nodeFailureClassified, CONSUMER, (e) => lifecycle.onFailureClassified(e)),
    await bus.consume(Events.powerFailed, CONSUMER, (p) => lifecycle.onPowerFailed(p)),
  ];
  log.info({ consumer: CONSUMER }, 'consuming lease, tftp, failure-classification and power-failure events');
  return async () => {
    await Promise.all(stops.map((stop) => stop()));
  };
}
