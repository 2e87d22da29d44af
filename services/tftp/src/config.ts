import { Type } from '@sinclair/typebox';
import { DefaultPorts } from '@swarmboot/contracts';
import { CommonConfig, parseConfig } from '@swarmboot/kit';

/** Environment of the tftp service. It uses NATS (events, unless SWARMBOOT_TFTP_EVENTS=off) but no Redis. */
export const TftpConfigSchema = Type.Object({
  SWARMBOOT_NATS_URL: CommonConfig.SWARMBOOT_NATS_URL,
  SWARMBOOT_NATS_REPLICAS: CommonConfig.SWARMBOOT_NATS_REPLICAS,
  SWARMBOOT_LOG_LEVEL: CommonConfig.SWARMBOOT_LOG_LEVEL,
  SWARMBOOT_TFTP_LISTEN: Type.String({ default: `0.0.0.0:${DefaultPorts.tftp}`, description: 'UDP host:port of the TFTP listener' }),
  SWARMBOOT_TFTP_ROOT: Type.String({ minLength: 1, description: 'directory served read-only (required)' }),
  SWARMBOOT_TFTP_RATE: Type.Integer({ minimum: 0, default: 0, description: 'total send budget of the server, bytes/s on the wire (all transfers share it); 0 = unpaced' }),
  SWARMBOOT_TFTP_MAX_TRANSFERS: Type.Integer({ minimum: 0, default: 0, description: 'transfers sending at once; more requests queue but are answered within 1 s; 0 = no limit' }),
  SWARMBOOT_TFTP_MAX_WINDOWSIZE: Type.Integer({ minimum: 1, maximum: 1024, default: 64, description: 'largest RFC 7440 windowsize granted (blocks); 1 declines windowsize' }),
  SWARMBOOT_TFTP_EVENTS: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on', description: 'off: standalone, no NATS connection and no events' }),
  SWARMBOOT_OPS_LISTEN: Type.String({ default: `0.0.0.0:${DefaultPorts.ops.tftp}`, description: 'host:port of /healthz and /metrics' }),
});

export type TftpConfig = ReturnType<typeof loadConfig>;

/** Parses the environment; throws CONFIG_INVALID naming the variable (SWARMBOOT_TFTP_ROOT is required). */
export function loadConfig(env: Record<string, string | undefined>) {
  return parseConfig(TftpConfigSchema, env);
}
