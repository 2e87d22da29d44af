import type { UdpPeer } from '@swarmboot/kit';
import type { DhcpMessage } from '../protocol/codec.js';
import { FLAG_BROADCAST, MessageType } from '../protocol/constants.js';


/** Where a reply goes, or why it cannot be sent. */
export type Destination = { to: UdpPeer } | { unroutable: string };

export interface DestinationPolicy {
  /** port of relay agents that did not ask for their source port (RFC 2131 §4.1: 67) */
  relayPort: number;
  /** port of clients (RFC 2131 §4.1: 68) */
  clientPort: number;
}

const BROADCAST = '255.255.255.255';

/**
 * The destination of a reply (RFC 2131 §4.1, RFC 8357 §5.2):
 * - relayed (giaddr set): giaddr, at the request's UDP source port when option 82 carries the
 *   Relay Source Port sub-option, else at the relay port;
 * - not relayed: a NAK is broadcast; otherwise ciaddr when set, else broadcast when the client
 *   set the broadcast bit. The last case — unicast to yiaddr at chaddr, before the client has an
 *   address — needs an ARP entry that node's dgram cannot add (no SIOCSARP, no raw socket), so
 *   the reply is broadcast instead: every client accepts a broadcast reply whose xid and chaddr
 *   match (RFC 2131 §4.1 allows the server to broadcast when it cannot unicast).
 */
export function replyDestination(req: DhcpMessage, replyType: number, from: UdpPeer, relaySourcePort: boolean, policy: DestinationPolicy): Destination {
  if (req.giaddr !== '0.0.0.0') return { to: { address: req.giaddr, port: relaySourcePort ? from.port : policy.relayPort } };
  if (replyType === MessageType.nak) return { to: { address: BROADCAST, port: policy.clientPort } };
  if (req.ciaddr !== '0.0.0.0') return { to: { address: req.ciaddr, port: policy.clientPort } };
  if (req.flags & FLAG_BROADCAST) return { to: { address: BROADCAST, port: policy.clientPort } };
  return { to: { address: BROADCAST, port: policy.clientPort } };
}
