/** Percent-encodes every byte, as BitTorrent clients do for info_hash and peer_id (BEP 3). */
export const escapeBytes = (b: Buffer): string => [...b].map((x) => '%' + x.toString(16).padStart(2, '0')).join('');
