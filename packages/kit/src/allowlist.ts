import ipaddr from 'ipaddr.js';
import { SwarmbootError } from '@swarmboot/contracts';

/** Which source addresses a listener serves: a list of CIDR ranges, or anyone. */
export interface AddressAllowlist {
  /** true when no range was configured: every address is allowed */
  readonly any: boolean;
  /** the ranges as configured, canonical (`10.0.0.0/16`), for logs */
  readonly ranges: readonly string[];
  /**
   * Whether `address` (IPv4, IPv6, or IPv4-mapped IPv6 such as `::ffff:10.0.0.5` as a dual-stack
   * socket reports it) lies in one of the ranges. An unparsable address is not allowed.
   */
  allows(address: string): boolean;
}

/**
 * Parses a comma- or space-separated list of CIDR ranges (`10.0.0.0/16, 192.168.4.0/24`); a bare
 * address is a range of one. Empty: anyone. Throws SwarmbootError CONFIG_INVALID naming
 * `variable` and the entry that is not a range. Matching by ipaddr.js (the parser fastify's
 * proxy-addr uses); IPv4-mapped IPv6 sources are matched as IPv4.
 */
export function parseAllowlist(value: string, variable: string): AddressAllowlist {
  const entries = value.split(/[\s,]+/).filter(Boolean);
  const ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][] = entries.map((entry) => {
    try {
      if (entry.includes('/')) return ipaddr.parseCIDR(entry);
      const a = ipaddr.parse(entry);
      return [a, a.kind() === 'ipv4' ? 32 : 128];
    } catch {
      throw new SwarmbootError('CONFIG_INVALID', `${variable}=${JSON.stringify(value)}: ${JSON.stringify(entry)} is not an address or CIDR range (a.b.c.d/len)`, {
        context: { variables: [variable] },
      });
    }
  });
  return {
    any: ranges.length === 0,
    ranges: ranges.map(([a, len]) => `${a.toString()}/${len}`),
    allows(address: string): boolean {
      if (ranges.length === 0) return true;
      let a: ipaddr.IPv4 | ipaddr.IPv6;
      try {
        a = ipaddr.process(address);
      } catch {
        return false;
      }
      return ranges.some(([net, len]) => net.kind() === a.kind() && a.match(net, len));
    },
  };
}
