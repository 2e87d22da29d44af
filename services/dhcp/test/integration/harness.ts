import { randomBytes } from 'node:crypto';
import type { Registry, Logger } from '@swarmboot/kit';
import { freePort, startBackends, type Backends } from '@swarmboot/testkit';
import { buildDhcpServer, encodeDhcp, loadDhcpConfig, macToChaddr, type DhcpMessage, type DhcpServer, type DhcpSettings, type NodeDirectory } from '../../src/index.js';

/*
 * What the DHCP integration tests share: real NATS and Redis (testkit's startBackends), DHCP
 * servers on free loopback ports, requests relayed from GIADDR (subnet 127.77.0.0/16 of the defaults).
 */

/** The emulated relay's address: requests come from here with giaddr set to it. */
export const GIADDR = '127.77.0.1';

/** The test file's NATS and Redis, and the DHCP servers started on them (closed first by stop()). */
export interface DhcpBackends extends Backends {
  servers: DhcpServer[];
}

/** startBackends of testkit, plus the DHCP servers that startDhcp adds. */
export async function startDhcpBackends(name: string, log: Logger): Promise<DhcpBackends> {
  const backends = await startBackends(name, log);
  const servers: DhcpServer[] = [];
  return {
    ...backends,
    servers,
    async stop() {
      for (const s of servers) await s.close();
      await backends.stop();
    },
  };
}

/**
 * A DHCP server with the service's defaults (demo subnet, lease time, boot script URL) on a free
 * port of 127.0.0.1; `env` is read as the service reads its environment, `patch` overrides the
 * parsed settings, `nodes` replaces the inventory look-up (default: the backends' Redis).
 */
export async function startDhcp(b: DhcpBackends, log: Logger, registry: Registry, opts: { env?: Record<string, string>; patch?: Partial<DhcpSettings>; nodes?: NodeDirectory } = {}): Promise<{ server: DhcpServer; port: number }> {
  const port = await freePort();
  const config = loadDhcpConfig({ SWARMBOOT_DHCP_LISTEN: `127.0.0.1:${port}`, ...opts.env });
  const server = buildDhcpServer({ log, bus: b.bus, redis: b.redis, config: { ...config.settings, ...opts.patch }, registry, ...(opts.nodes ? { nodes: opts.nodes } : {}) });
  await server.listen();
  b.servers.push(server);
  return { server, port };
}

/** The value of a counter's series whose `label` is `value` (0 when there is none yet). */
export async function counter(reg: Registry, name: string, label: string, value: string): Promise<number> {
  const got = await reg.getSingleMetric(name)?.get();
  return got?.values.find((v) => v.labels[label] === value)?.value ?? 0;
}

/** A random locally administered unicast MAC, aa:bb:cc:dd:ee:ff. */
export function randomMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/**
 * An encoded BOOTREQUEST (op 1, RFC 2131 §2) as a relay forwards it: hops 1, giaddr GIADDR, a
 * random xid and chaddr, no ciaddr; `fields` override any of these.
 */
export function bootRequest(options: [number, Buffer][], fields: Partial<DhcpMessage> = {}): Buffer {
  return encodeDhcp({
    op: 1,
    htype: 1,
    hlen: 6,
    hops: 1,
    xid: randomBytes(4).readUInt32BE(0),
    secs: 0,
    flags: 0,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: GIADDR,
    chaddr: macToChaddr(randomMac()),
    sname: '',
    file: '',
    ...fields,
    options: new Map(options),
  });
}
