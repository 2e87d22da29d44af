import type { Subnet } from './subnets.js';

/** A client's lease record (one per chaddr). `expiresAt`: ms since the epoch. */
export interface LeaseRecord {
  chaddr: string;
  ip: string;
  /** the subnet's cidr */
  subnet: string;
  state: 'offered' | 'bound' | 'released';
  expiresAt: number;
}

/**
 * Outcome of binding an address on DHCPREQUEST (RFC 2131 §4.3.2):
 * - `bound`: ACK;
 * - `taken`: another client holds the address — NAK;
 * - `out_of_pool`: the address is not in this subnet's pool — NAK;
 * - `mismatch`: we know the client, with another address — NAK;
 * - `unknown`: we have no record of the client — stay silent (RFC 2131 §4.3.2, INIT-REBOOT).
 */
export type CommitResult = 'bound' | 'taken' | 'out_of_pool' | 'mismatch' | 'unknown';

/** A DISCOVER's reservation request (see {@link LeaseStore.offer}). */
export interface OfferRequest {
  chaddr: string;
  subnet: Subnet;
  /** option 50 */
  requestedIp?: string;
  /** how long an offered address is held for the client's REQUEST (s) */
  reserveSeconds: number;
  /**
   * At most this many addresses of `subnet` are held by offers not yet requested; past it an
   * offer holds nothing. Undefined: no bound.
   */
  maxHeld?: number;
}

/** An offered address; `held`: reserved for the client (false: offered past the bound, held by nobody). */
export interface Offer {
  ip: string;
  held: boolean;
}

/**
 * Address leases, shared by every server replica. The `chaddr` argument is the lease key: the
 * client identifier (option 61, RFC 6842/2132 §9.14) as `id:<hex>` for ordinary clients that send
 * one, the chaddr (lower-case colon MAC) for boot clients (PXE ROM, iPXE, UEFI HTTP), so a PXE
 * ROM and the iPXE it chainloads — same NIC, different client identifiers — keep one address. Implementations must be atomic: no address is
 * ever held by two clients, whatever the number of replicas.
 */
export interface LeaseStore {
  /**
   * DISCOVER: picks an address for `chaddr` in `subnet`'s pool — the one it holds or held,
   * else `requestedIp` (option 50) when free, else a free one (RFC 2131 §4.3.1) — and reserves it
   * for `reserveSeconds` (never shortening a binding) while fewer than `maxHeld` offers of the
   * subnet hold an address. RFC 2131 §4.3.1 asks that an offered address not be reused before the
   * client answers, "while not required for correct operation": past the bound an offer reserves
   * nothing, so DISCOVERs alone cannot hold a whole pool.
   * undefined when the pool is exhausted (every address bound, held or quarantined).
   */
  offer(req: OfferRequest): Promise<Offer | undefined>;
  /** REQUEST: binds `ip` to `chaddr` for `leaseSeconds` when the rules of {@link CommitResult} allow. */
  commit(req: { chaddr: string; ip: string; subnet: Subnet; leaseSeconds: number }): Promise<CommitResult>;
  /**
   * Frees an address that was only offered (not bound) to `chaddr` — the client chose another
   * server (RFC 2131 §4.3.2, SELECTING). true when something was freed.
   */
  releaseOffer(req: { chaddr: string; ip: string }): Promise<boolean>;
  /** DHCPRELEASE (RFC 2131 §4.3.4): frees `ip` when `chaddr` holds it; the address stays remembered. */
  release(req: { chaddr: string; ip: string }): Promise<boolean>;
  /**
   * DHCPDECLINE (RFC 2131 §4.3.3): `ip` is in use on the wire; nobody gets it for
   * `quarantineSeconds`, and `chaddr` forgets it.
   */
  decline(req: { chaddr: string; ip: string; quarantineSeconds: number }): Promise<boolean>;
  /** The record of `chaddr`, if any. */
  get(chaddr: string): Promise<LeaseRecord | undefined>;
  /** The chaddr holding `ip` (offered or bound), if any. */
  holderOf(ip: string): Promise<string | undefined>;
}

/** The inventory entry of a MAC (scheduler-owned). */
export interface NodeInfo {
  nodeId: string;
  hostname?: string;
}

/** Reads the node inventory; used for option 12 and the lease event. */
export interface NodeDirectory {
  lookupByMac(mac: string): Promise<NodeInfo | undefined>;
}
