import type { UdpPeer } from '@swarmboot/kit';
import type { LeaseGranted } from '@swarmboot/contracts';
import type { DhcpMessage } from '../protocol/codec.js';

/** Why a request got no reply; the `reason` label of `swarmboot_dhcp_dropped_total`. */
export type DropReason =
  | 'malformed'
  | 'not_request'
  | 'no_message_type'
  | 'unsupported_htype'
  | 'unsupported_type'
  | 'invalid_request'
  | 'no_subnet'
  | 'unroutable'
  | 'pool_exhausted'
  | 'other_server'
  | 'unknown_client'
  | 'store_error'
  /** receive queue: full, a retransmission of a request still queued or in work, waited too long */
  | 'queue_full'
  | 'duplicate'
  | 'stale'
  /** proxy mode: not a PXE client, or a message the proxy leaves to the site's DHCP server */
  | 'not_pxe'
  | 'proxy_ignored'
  /** a bug: the handler threw something other than DHCP_MALFORMED */
  | 'internal';

/** What the core handler decided for one request. */
export type Outcome =
  /** `unheld`: an OFFER made past the subnet's bound on held offers, reserving nothing */
  | { kind: 'reply'; type: number; message: DhcpMessage; to: UdpPeer; lease?: LeaseGranted; unheld?: true }
  | { kind: 'done'; change: 'released' | 'declined' | 'ignored' }
  | { kind: 'drop'; reason: DropReason; level: 'debug' | 'warn'; detail: string };
