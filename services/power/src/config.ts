import { Type, type Static } from '@sinclair/typebox';
import { DefaultPorts } from '@swarmboot/contracts';
import { CommonConfig, parseConfig, parseHostPort } from '@swarmboot/kit';

/** Environment of `swarmboot power`. */
export const PowerConfigSchema = Type.Object({
  SWARMBOOT_NATS_URL: CommonConfig.SWARMBOOT_NATS_URL,
  SWARMBOOT_NATS_REPLICAS: CommonConfig.SWARMBOOT_NATS_REPLICAS,
  SWARMBOOT_LOG_LEVEL: CommonConfig.SWARMBOOT_LOG_LEVEL,
  SWARMBOOT_POWER_BMCS: Type.String({
    default: '',
    description: 'BMC inventory file (YAML or JSON): node id or MAC → {driver (redfish|ipmi|qmp), address, port, systemId, credentials, auth}; empty: requests must carry their BMC',
  }),
  SWARMBOOT_POWER_CREDENTIALS_FILE: Type.String({
    default: '',
    description: 'credentials file (YAML or JSON): name → {username, password}; in Kubernetes a mounted Secret. Never logged',
  }),
  SWARMBOOT_POWER_MAX_IN_FLIGHT: Type.Integer({ minimum: 1, default: 20, description: 'BMC operations running at once (a request with its retries is one)' }),
  SWARMBOOT_POWER_RATE_PER_SECOND: Type.Number({ exclusiveMinimum: 0, default: 10, description: 'BMC operations started per second, at most' }),
  SWARMBOOT_POWER_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 10_000, description: 'limit of one BMC request (a Redfish HTTP exchange, one ipmitool run, one whole QMP operation), ms' }),
  SWARMBOOT_POWER_RETRIES: Type.Integer({ minimum: 0, maximum: 10, default: 3, description: 'retries after a timeout, a connection failure, a 5xx or a garbled answer (auth and other 4xx are not retried)' }),
  SWARMBOOT_POWER_RETRY_BASE_MS: Type.Integer({ minimum: 1, default: 1000, description: 'first retry delay, ms; doubled per retry (exponential backoff)' }),
  SWARMBOOT_POWER_RETRY_MAX_MS: Type.Integer({ minimum: 1, default: 30_000, description: 'retry delay cap, ms' }),
  SWARMBOOT_POWER_COALESCE_MS: Type.Integer({
    minimum: 0,
    default: 30_000,
    description: 'a request for a node and action in flight shares that BMC operation; a pxe-boot, on or off within this many ms of the same one completing is answered from it (0: every request acts)',
  }),
  SWARMBOOT_POWER_TLS_CA_FILE: Type.String({ default: '', description: 'PEM file of the CA that signed the Redfish BMCs’ certificates; empty: the system CAs' }),
  SWARMBOOT_POWER_TLS_INSECURE: Type.Boolean({ default: false, description: 'accept any Redfish BMC certificate (self-signed factory certificates); off by default' }),
  SWARMBOOT_POWER_IPMITOOL: Type.String({ default: 'ipmitool', description: 'the ipmitool binary the IPMI driver runs' }),
  SWARMBOOT_OPS_LISTEN: Type.String({ default: `0.0.0.0:${DefaultPorts.ops.power}`, description: '/healthz and /metrics listen address host:port' }),
});
export type PowerConfig = Static<typeof PowerConfigSchema>;

/** Parses and checks the power service's environment; throws SwarmbootError CONFIG_INVALID naming the variable. */
export function loadConfig(env: Record<string, string | undefined>): Readonly<PowerConfig> {
  const config = parseConfig(PowerConfigSchema, env);
  parseHostPort(config.SWARMBOOT_OPS_LISTEN, 'SWARMBOOT_OPS_LISTEN');
  return config;
}
