/**
 * Which peers an announce gets back. A swarm here is one cluster installing one image: the
 * cheapest bytes come from the same rack (one switch, no uplink), so most of the list is local;
 * a few remote peers keep the racks' swarms connected, so a piece that entered one rack reaches
 * the others without every rack pulling it from the seeder.
 */

export interface PeerSelectionInput {
  /** the announcing peer's IPv4 address */
  ip: string;
  /** its rack label, when the inventory knows it */
  rack: string | undefined;
  /** candidate peers `ip:port` (the announcing peer already removed) */
  candidates: readonly string[];
  /** rack label of a candidate's ip, when known */
  rackOf: (ip: string) => string | undefined;
  /** most peers to return (BEP 3 `numwant`, already capped) */
  numwant: number;
  /** share of the list reserved for remote peers when enough local ones exist (default 0.2) */
  remoteShare?: number;
  /** random in [0, 1) (for tests) */
  random?: () => number;
}

/** `a.b.c.d` → `a.b.c` (the /24 of an IPv4 address); other forms are returned whole. */
export function subnet24(ip: string): string {
  const i = ip.lastIndexOf('.');
  return i > 0 ? ip.slice(0, i) : ip;
}

const ipOf = (addr: string): string => addr.slice(0, addr.lastIndexOf(':'));

function shuffle<T>(a: T[], random: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}

/**
 * Local peers first (same rack label; when the announcing node has no rack label, same /24),
 * at most `numwant`, with `ceil(numwant * remoteShare)` places kept for remote peers (at least
 * one when any exists); unused places go to the other group. Random within each group, so the
 * swarm's connection graph is a random one (an expander) rather than a chain.
 */
export function selectPeers(input: PeerSelectionInput): string[] {
  const random = input.random ?? Math.random;
  const want = Math.max(0, Math.floor(input.numwant));
  if (want === 0 || input.candidates.length === 0) return [];
  const local: string[] = [];
  const remote: string[] = [];
  const net = subnet24(input.ip);
  for (const addr of input.candidates) {
    const ip = ipOf(addr);
    const isLocal = input.rack !== undefined ? input.rackOf(ip) === input.rack : subnet24(ip) === net;
    (isLocal ? local : remote).push(addr);
  }
  if (local.length + remote.length <= want) return shuffle([...local, ...remote], random);
  const remoteSlots = remote.length === 0 ? 0 : Math.max(1, Math.ceil(want * (input.remoteShare ?? 0.2)));
  const nRemote = Math.min(remote.length, Math.max(remoteSlots, want - local.length));
  const nLocal = Math.min(local.length, want - nRemote);
  return shuffle([...shuffle(local, random).slice(0, nLocal), ...shuffle(remote, random).slice(0, nRemote)], random);
}
