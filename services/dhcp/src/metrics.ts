import { Counter, Gauge, type Registry } from 'prom-client';
import type { DropReason, Outcome } from './domain/outcome.js';
import { messageTypeName } from './protocol/constants.js';

type LeaseChange = Extract<Outcome, { kind: 'done' }>['change'];

/**
 * The `swarmboot_dhcp_*` metrics of one server instance: drops by reason, replies by message
 * type, RELEASE/DECLINE by change, and the receive queue's depth.
 */
export class DhcpMetrics {
  private readonly dropped: Counter<'reason'>;
  private readonly replies: Counter<'type'>;
  private readonly changes: Counter<'change'>;
  private readonly queueDepth: Gauge;
  private readonly unheld: Counter;
  // labelled children bound once: label lookup per increment shows in a storm's profile
  private readonly dropCounters = new Map<DropReason, ReturnType<Counter<'reason'>['labels']>>();
  private readonly replyCounters = new Map<number, ReturnType<Counter<'type'>['labels']>>();

  constructor(registry: Registry) {
    this.dropped = new Counter({ name: 'swarmboot_dhcp_dropped_total', help: 'DHCP requests answered with silence, by reason', labelNames: ['reason'], registers: [registry] });
    this.replies = new Counter({ name: 'swarmboot_dhcp_replies_total', help: 'DHCP replies sent, by message type', labelNames: ['type'], registers: [registry] });
    this.changes = new Counter({ name: 'swarmboot_dhcp_lease_changes_total', help: 'RELEASE and DECLINE handled, by change', labelNames: ['change'], registers: [registry] });
    this.unheld = new Counter({
      name: 'swarmboot_dhcp_offers_unheld_total',
      help: 'OFFERs that reserved no address: the subnet had offerHoldShare of its pool held by unanswered offers (a flood of DISCOVERs, or a very large boot storm)',
      registers: [registry],
    });
    this.queueDepth = new Gauge({ name: 'swarmboot_dhcp_queue_depth', help: 'DHCP requests waiting in the receive queue', registers: [registry] });
  }

  /** One request answered with silence. */
  drop(reason: DropReason): void {
    let c = this.dropCounters.get(reason);
    if (c === undefined) this.dropCounters.set(reason, (c = this.dropped.labels(reason)));
    c.inc();
  }

  /** One reply of DHCP message `type` (option 53) sent. */
  reply(type: number): void {
    let c = this.replyCounters.get(type);
    if (c === undefined) this.replyCounters.set(type, (c = this.replies.labels(messageTypeName(type))));
    c.inc();
  }

  /** One RELEASE or DECLINE handled. */
  change(change: LeaseChange): void {
    this.changes.inc({ change });
  }

  /** One OFFER sent that reserved nothing (past the subnet's bound on held offers). */
  unheldOffer(): void {
    this.unheld.inc();
  }

  /** Requests waiting in the receive queue. */
  setQueueDepth(depth: number): void {
    this.queueDepth.set(depth);
  }
}
