import { randomInt } from 'node:crypto';

/**
 * The first bytes of the seeder's BitTorrent peer id (BEP 20 Azureus style `-XXnnnn-`, then
 * `SEEDER`). Agents compare a wire's peer id with this prefix to tell bytes from the seeder
 * from bytes from other nodes.
 */
export const SEEDER_PEER_ID_PREFIX = '-SB0001-SEEDER';

const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * A seeder peer id: 20 ASCII bytes, SEEDER_PEER_ID_PREFIX then 6 random letters/digits, so two
 * seeder replicas in one swarm still have distinct ids. Fixed for the life of the process.
 */
export function seederPeerId(): Buffer {
  let suffix = '';
  while (SEEDER_PEER_ID_PREFIX.length + suffix.length < 20) suffix += alphabet[randomInt(alphabet.length)];
  return Buffer.from(SEEDER_PEER_ID_PREFIX + suffix, 'ascii');
}

/** True when a peer id (40 hex digits, as webtorrent reports it, or raw bytes) is a seeder's. */
export function isSeederPeerId(peerId: string | Uint8Array): boolean {
  const bytes = typeof peerId === 'string' ? Buffer.from(peerId, 'hex') : Buffer.from(peerId);
  return bytes.subarray(0, SEEDER_PEER_ID_PREFIX.length).toString('latin1') === SEEDER_PEER_ID_PREFIX;
}
