import { intToIp, ipToInt } from '@swarmboot/kit';

/** One entry of `SWARMBOOT_DHCP_SUBNETS` as written by the operator. */
export interface SubnetSpec {
  /** `a.b.c.d/len`, host bits zero */
  subnet: string;
  /** `first-last`, inclusive, inside the subnet */
  pool: string;
  /** option 3, inside the subnet */
  router?: string;
  /** siaddr of replies: the TFTP server (RFC 2131 §2 "next server") */
  nextServer: string;
  /** option 6 */
  dns?: string[];
}

/** A validated subnet: addresses as unsigned 32-bit integers where arithmetic is needed. */
export interface Subnet {
  /** canonical `a.b.c.d/len`; also the subnet's id in Redis keys */
  readonly cidr: string;
  readonly network: number;
  readonly prefix: number;
  /** option 1, dotted */
  readonly mask: string;
  readonly poolStart: number;
  readonly poolEnd: number;
  readonly router?: string;
  readonly nextServer: string;
  readonly dns: readonly string[];
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function subnetContains(s: Pick<Subnet, 'network' | 'prefix'>, ip: number): boolean {
  return ((ip & maskOf(s.prefix)) >>> 0) === s.network;
}

export function poolContains(s: Subnet, ip: number): boolean {
  return ip >= s.poolStart && ip <= s.poolEnd;
}

function ip(value: string, what: string): number {
  try {
    return ipToInt(value);
  } catch {
    throw new Error(`${what} ${JSON.stringify(value)} is not an IPv4 address`);
  }
}

/** Validates one spec; throws Error with a message naming the offending field. */
export function parseSubnet(spec: SubnetSpec): Subnet {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(spec.subnet);
  const prefix = m ? Number(m[2]) : NaN;
  if (!m || prefix > 32) throw new Error(`subnet ${JSON.stringify(spec.subnet)} is not a.b.c.d/len`);
  const network = ip(m[1]!, 'subnet');
  const mask = maskOf(prefix);
  if (((network & mask) >>> 0) !== network) throw new Error(`subnet ${spec.subnet} has host bits set (network is ${intToIp((network & mask) >>> 0)}/${prefix})`);
  const range = /^([^-\s]+)\s*-\s*([^-\s]+)$/.exec(spec.pool);
  if (!range) throw new Error(`pool ${JSON.stringify(spec.pool)} of ${spec.subnet} is not first-last`);
  const poolStart = ip(range[1]!, 'pool start');
  const poolEnd = ip(range[2]!, 'pool end');
  const sn = { network, prefix };
  if (poolStart > poolEnd) throw new Error(`pool ${spec.pool} of ${spec.subnet}: first address after last`);
  if (!subnetContains(sn, poolStart) || !subnetContains(sn, poolEnd)) throw new Error(`pool ${spec.pool} is not inside ${spec.subnet}`);
  if (prefix < 31) {
    const broadcast = (network | (~mask >>> 0)) >>> 0;
    if (poolStart === network || poolEnd === broadcast) throw new Error(`pool ${spec.pool} of ${spec.subnet} includes the network or broadcast address`);
  }
  if (spec.router !== undefined && !subnetContains(sn, ip(spec.router, 'router'))) throw new Error(`router ${spec.router} is not inside ${spec.subnet}`);
  ip(spec.nextServer, 'nextServer');
  for (const d of spec.dns ?? []) ip(d, 'dns');
  return Object.freeze({
    cidr: `${intToIp(network)}/${prefix}`,
    network,
    prefix,
    mask: intToIp(mask),
    poolStart,
    poolEnd,
    ...(spec.router === undefined ? {} : { router: spec.router }),
    nextServer: spec.nextServer,
    dns: Object.freeze([...(spec.dns ?? [])]),
  });
}

/** Validates every spec and that no two subnets overlap (a giaddr must pick exactly one). */
export function parseSubnets(specs: readonly SubnetSpec[]): readonly Subnet[] {
  const subnets = specs.map(parseSubnet);
  for (let i = 0; i < subnets.length; i++) {
    for (let j = i + 1; j < subnets.length; j++) {
      const a = subnets[i]!;
      const b = subnets[j]!;
      if (subnetContains(a, b.network) || subnetContains(b, a.network)) throw new Error(`subnets ${a.cidr} and ${b.cidr} overlap`);
    }
  }
  return Object.freeze(subnets);
}

/** The subnet containing `address` (a giaddr or ciaddr), if any. */
export function subnetFor(subnets: readonly Subnet[], address: string): Subnet | undefined {
  let n: number;
  try {
    n = ipToInt(address);
  } catch {
    return undefined;
  }
  return subnets.find((s) => subnetContains(s, n));
}
