import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { parse as parseYaml } from 'yaml';
import { Value } from '@sinclair/typebox/value';
import { DefaultPorts, DemoNet, SwarmbootError } from '@swarmboot/contracts';
import { CommonConfig, ipToInt, parseConfig, parseHostPort } from '@swarmboot/kit';
import type { DhcpSettings, Reservation } from './settings.js';
import { BootFiles } from './domain/boot.js';
import { parseSubnets, poolContains, subnetContains, type SubnetSpec } from './domain/subnets.js';

const Ipv4 = Type.String({ pattern: '^\\d{1,3}(\\.\\d{1,3}){3}$' });

/** The subnets of the demo: every emulated node relays from DemoNet.relay. */
export const DEFAULT_SUBNETS: readonly SubnetSpec[] = [{ subnet: DemoNet.subnet, pool: DemoNet.pool, router: DemoNet.relay, nextServer: '127.0.0.1' }];

const Mac = Type.String({ pattern: '^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$' });

/** The config file of `swarmboot dhcp --config FILE` (JSON or YAML); every key optional. */
export const DhcpFileSchema = Type.Object(
  {
    mode: Type.Optional(Type.Union([Type.Literal('server'), Type.Literal('proxy')])),
    listen: Type.Optional(Type.String()),
    proxyPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    serverId: Type.Optional(Ipv4),
    leaseSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 0xfffffffe })),
    offerReserveSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
    offerHoldShare: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
    declineQuarantineSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
    relayPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    clientPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    bootScriptUrl: Type.Optional(Type.String()),
    bootFiles: Type.Optional(
      Type.Object(
        {
          bios: Type.Optional(Type.String()),
          efiIa32: Type.Optional(Type.String()),
          efiX64: Type.Optional(Type.String()),
          efiArm64: Type.Optional(Type.String()),
          httpX64: Type.Optional(Type.String()),
          httpArm64: Type.Optional(Type.String()),
        },
        { additionalProperties: false },
      ),
    ),
    subnets: Type.Optional(Type.Array(Type.Unknown(), { minItems: 1 })),
    reservations: Type.Optional(
      Type.Array(Type.Object({ mac: Mac, ip: Type.Optional(Ipv4), hostname: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })) }, { additionalProperties: false })),
    ),
    queue: Type.Optional(
      Type.Object(
        {
          max: Type.Optional(Type.Integer({ minimum: 1 })),
          maxAgeMs: Type.Optional(Type.Integer({ minimum: 1 })),
          concurrency: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    reuseAddr: Type.Optional(Type.Boolean()),
    redisUrl: Type.Optional(Type.String()),
    natsUrl: Type.Optional(Type.String()),
    opsListen: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type DhcpFile = Static<typeof DhcpFileSchema>;

/** Reads and validates a config file (JSON when it parses as JSON, else YAML); throws CONFIG_INVALID naming the file. */
export function readDhcpFile(path: string): DhcpFile {
  const bad = (why: string) => new SwarmbootError('CONFIG_INVALID', `invalid configuration file ${path}: ${why}`, { context: { variables: ['SWARMBOOT_DHCP_CONFIG'], path } });
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw bad((err as Error).message);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text); // YAML 1.2 is a superset of JSON
  } catch (err) {
    throw bad(`neither JSON nor YAML (${(err as Error).message})`);
  }
  if (!Value.Check(DhcpFileSchema, parsed)) {
    const first = Value.Errors(DhcpFileSchema, parsed).First();
    throw bad(`${first?.path || '/'} ${first?.message ?? 'invalid'}`);
  }
  return parsed;
}

/** Shape of one entry of SWARMBOOT_DHCP_SUBNETS. */
const SubnetSpecSchema = Type.Object(
  {
    subnet: Type.String(),
    pool: Type.String(),
    router: Type.Optional(Ipv4),
    nextServer: Ipv4,
    dns: Type.Optional(Type.Array(Ipv4)),
  },
  { additionalProperties: false },
);
const SubnetSpecsSchema = Type.Array(SubnetSpecSchema, { minItems: 1 });

/** Environment variables of the DHCP service. */
export const DhcpEnv = Type.Object({
  ...CommonConfig,
  SWARMBOOT_DHCP_LISTEN: Type.String({ default: `0.0.0.0:${DefaultPorts.dhcp}`, description: 'UDP host:port of the DHCP socket' }),
  SWARMBOOT_DHCP_SUBNETS: Type.String({
    default: JSON.stringify(DEFAULT_SUBNETS),
    description: 'JSON array of {subnet:"a.b.c.d/len", pool:"first-last", router?, nextServer, dns?: [..]}',
  }),
  SWARMBOOT_DHCP_SERVER_ID: Type.String({ ...Ipv4, default: '127.0.0.1', description: 'option 54 server identifier' }),
  SWARMBOOT_DHCP_LEASE_SECONDS: Type.Integer({ minimum: 1, maximum: 0xfffffffe, default: 3600, description: 'option 51 lease time (s)' }),
  SWARMBOOT_DHCP_BOOT_SCRIPT_URL: Type.String({ default: `http://127.0.0.1:${DefaultPorts.scheduler}/v1/boot/\${mac}`, description: 'boot file for iPXE; ${mac} is replaced by the chaddr' }),
  SWARMBOOT_DHCP_RELAY_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: DefaultPorts.dhcpRelay, description: 'UDP port of relays (RFC 2131 §4.1)' }),
  SWARMBOOT_OPS_LISTEN: Type.String({ default: `0.0.0.0:${DefaultPorts.ops.dhcp}`, description: 'host:port of /healthz and /metrics' }),
  SWARMBOOT_DHCP_CONFIG: Type.Optional(Type.String({ description: 'JSON or YAML config file (services/dhcp/README.md); its settings win over the variables above' })),
});
export type DhcpEnv = Static<typeof DhcpEnv>;

export interface DhcpConfig {
  env: Readonly<DhcpEnv>;
  settings: DhcpSettings;
  ops: { host: string; port: number };
}

function invalid(name: string, value: string | undefined, why: string): SwarmbootError {
  return new SwarmbootError('CONFIG_INVALID', `invalid configuration:\n  ${name}=${JSON.stringify(value ?? null)}: ${why}`, { context: { variables: [name] } });
}

/** Parses SWARMBOOT_DHCP_SUBNETS; throws CONFIG_INVALID naming the variable. */
export function parseSubnetsEnv(raw: string, name = 'SWARMBOOT_DHCP_SUBNETS'): DhcpSettings['subnets'] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw invalid(name, raw, `not JSON (${(err as Error).message})`);
  }
  if (!Value.Check(SubnetSpecsSchema, parsed)) {
    const first = Value.Errors(SubnetSpecsSchema, parsed).First();
    throw invalid(name, raw, `${first?.path ?? ''} ${first?.message ?? 'invalid'}`.trim());
  }
  try {
    return parseSubnets(parsed);
  } catch (err) {
    throw invalid(name, raw, (err as Error).message);
  }
}

/**
 * Reads and validates the DHCP service's configuration from `env`; throws SwarmbootError
 * `CONFIG_INVALID` naming the offending variable.
 */
export function loadDhcpConfig(env: Record<string, string | undefined>): DhcpConfig {
  const e0 = parseConfig(DhcpEnv, env);
  const file = e0.SWARMBOOT_DHCP_CONFIG === undefined ? undefined : readDhcpFile(e0.SWARMBOOT_DHCP_CONFIG);
  // the file's connection URLs win over the environment, like every other setting of the file
  const e: Readonly<DhcpEnv> = Object.freeze({
    ...e0,
    ...(file?.redisUrl === undefined ? {} : { SWARMBOOT_REDIS_URL: file.redisUrl }),
    ...(file?.natsUrl === undefined ? {} : { SWARMBOOT_NATS_URL: file.natsUrl }),
  });
  const where = (key: string, variable: string) => (file !== undefined && key in file ? `${e0.SWARMBOOT_DHCP_CONFIG ?? ''}: ${key}` : variable);
  const serverId = file?.serverId ?? e.SWARMBOOT_DHCP_SERVER_ID;
  try {
    ipToInt(serverId);
  } catch {
    throw invalid(where('serverId', 'SWARMBOOT_DHCP_SERVER_ID'), serverId, 'not an IPv4 address');
  }
  const listen = parseHostPort(file?.listen ?? e.SWARMBOOT_DHCP_LISTEN, where('listen', 'SWARMBOOT_DHCP_LISTEN'));
  const ops = parseHostPort(file?.opsListen ?? e.SWARMBOOT_OPS_LISTEN, where('opsListen', 'SWARMBOOT_OPS_LISTEN'));
  const subnets = file?.subnets !== undefined ? parseSubnetsEnv(JSON.stringify(file.subnets), where('subnets', '')) : parseSubnetsEnv(e.SWARMBOOT_DHCP_SUBNETS);
  const reservations: Reservation[] = [];
  for (const r of file?.reservations ?? []) {
    const mac = r.mac.toLowerCase().replaceAll('-', ':');
    if (r.ip !== undefined) {
      const n = ipToInt(r.ip);
      const s = subnets.find((x) => subnetContains(x, n));
      if (s === undefined) throw invalid(where('reservations', ''), r.ip, `reservation of ${mac}: no subnet contains ${r.ip}`);
      // out-of-pool reservations (as ISC dhcpd and Kea advise): the pool allocator never sees them
      if (poolContains(s, n)) throw invalid(where('reservations', ''), r.ip, `reservation of ${mac}: ${r.ip} is inside the dynamic pool of ${s.cidr}; reserve addresses outside it`);
    }
    reservations.push({ mac, ...(r.ip === undefined ? {} : { ip: r.ip }), ...(r.hostname === undefined ? {} : { hostname: r.hostname }) });
  }
  const settings: DhcpSettings = {
    mode: file?.mode ?? 'server',
    listen,
    serverId,
    leaseSeconds: file?.leaseSeconds ?? e.SWARMBOOT_DHCP_LEASE_SECONDS,
    bootScriptUrl: file?.bootScriptUrl ?? e.SWARMBOOT_DHCP_BOOT_SCRIPT_URL,
    relayPort: file?.relayPort ?? e.SWARMBOOT_DHCP_RELAY_PORT,
    subnets,
    bootFiles: Object.freeze({ ...BootFiles, ...(file?.bootFiles ?? {}) }),
    reservations: Object.freeze(reservations),
    ...(file?.proxyPort === undefined ? {} : { proxyPort: file.proxyPort }),
    ...(file?.clientPort === undefined ? {} : { clientPort: file.clientPort }),
    ...(file?.offerReserveSeconds === undefined ? {} : { offerReserveSeconds: file.offerReserveSeconds }),
    ...(file?.offerHoldShare === undefined ? {} : { offerHoldShare: file.offerHoldShare }),
    ...(file?.declineQuarantineSeconds === undefined ? {} : { declineQuarantineSeconds: file.declineQuarantineSeconds }),
    ...(file?.queue === undefined ? {} : { queue: file.queue }),
    ...(file?.reuseAddr === undefined ? {} : { reuseAddr: file.reuseAddr }),
  };
  return { env: e, settings: Object.freeze(settings), ops };
}
