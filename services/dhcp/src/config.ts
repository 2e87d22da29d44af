import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { DefaultPorts, SwarmbootError } from '@swarmboot/contracts';
import { CommonConfig, ipToInt, parseConfig, parseHostPort } from '@swarmboot/kit';
import type { DhcpSettings } from './app.js';
import { parseSubnets, type SubnetSpec } from './domain/subnets.js';

const Ipv4 = Type.String({ pattern: '^\\d{1,3}(\\.\\d{1,3}){3}$' });

/** The subnets of the demo: every emulated node relays from 127.77.0.1. */
export const DEFAULT_SUBNETS: readonly SubnetSpec[] = [{ subnet: '127.77.0.0/16', pool: '127.77.1.1-127.77.255.254', router: '127.77.0.1', nextServer: '127.0.0.1' }];

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
  const e = parseConfig(DhcpEnv, env);
  try {
    ipToInt(e.SWARMBOOT_DHCP_SERVER_ID);
  } catch {
    throw invalid('SWARMBOOT_DHCP_SERVER_ID', e.SWARMBOOT_DHCP_SERVER_ID, 'not an IPv4 address');
  }
  const listen = parseHostPort(e.SWARMBOOT_DHCP_LISTEN, 'SWARMBOOT_DHCP_LISTEN');
  const ops = parseHostPort(e.SWARMBOOT_OPS_LISTEN, 'SWARMBOOT_OPS_LISTEN');
  const settings: DhcpSettings = {
    listen,
    serverId: e.SWARMBOOT_DHCP_SERVER_ID,
    leaseSeconds: e.SWARMBOOT_DHCP_LEASE_SECONDS,
    bootScriptUrl: e.SWARMBOOT_DHCP_BOOT_SCRIPT_URL,
    relayPort: e.SWARMBOOT_DHCP_RELAY_PORT,
    subnets: parseSubnetsEnv(e.SWARMBOOT_DHCP_SUBNETS),
  };
  return { env: e, settings: Object.freeze(settings), ops };
}
