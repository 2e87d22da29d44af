import { Type } from '@sinclair/typebox';
import { DefaultPorts } from '@swarmboot/contracts';
import { CommonConfig, parseConfig } from '@swarmboot/kit';

/** Environment of the tftp service. It uses NATS (events) but no Redis. */
export const TftpConfigSchema = Type.Object({
  SWARMBOOT_NATS_URL: CommonConfig.SWARMBOOT_NATS_URL,
  SWARMBOOT_LOG_LEVEL: CommonConfig.SWARMBOOT_LOG_LEVEL,
  SWARMBOOT_TFTP_LISTEN: Type.String({ default: `0.0.0.0:${DefaultPorts.tftp}`, description: 'UDP host:port of the TFTP listener' }),
  SWARMBOOT_TFTP_ROOT: Type.String({ minLength: 1, description: 'directory served read-only (required)' }),
  SWARMBOOT_OPS_LISTEN: Type.String({ default: `0.0.0.0:${DefaultPorts.ops.tftp}`, description: 'host:port of /healthz and /metrics' }),
});

export type TftpConfig = ReturnType<typeof loadConfig>;

/** Parses the environment; throws CONFIG_INVALID naming the variable (SWARMBOOT_TFTP_ROOT is required). */
export function loadConfig(env: Record<string, string | undefined>) {
  return parseConfig(TftpConfigSchema, env);
}
