import { Type } from '@sinclair/typebox';
import { createLogger, parseConfig, parseHostPort, normalizeMac } from '@swarmboot/kit';
import { DemoNet, SwarmbootError } from '@swarmboot/contracts';
import { runAgent } from './agent.js';

export const AgentConfig = Type.Object({
  SWARMBOOT_AGENT_MAC: Type.String({ description: 'the node MAC (chaddr)' }),
  SWARMBOOT_AGENT_DHCP: Type.String({ default: '127.0.0.1:6767', description: 'dhcp service host:port the relay forwards to' }),
  SWARMBOOT_AGENT_GIADDR: Type.String({ default: DemoNet.relay, description: 'relay address on the node subnet' }),
  SWARMBOOT_AGENT_TFTP_PORT: Type.Integer({ default: 6969, minimum: 1, maximum: 65535 }),
  SWARMBOOT_AGENT_ARCH: Type.Integer({ default: 7, minimum: 0, maximum: 65535 }),
  SWARMBOOT_AGENT_WORK: Type.String({ minLength: 1, description: 'the node disk directory' }),
  SWARMBOOT_LOG_LEVEL: Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')], { default: 'info' }),
});

/** `swarmboot agent`: one emulated node, configured by env; exits 0 when released, 1 on failure. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = parseConfig(AgentConfig, env);
  const mac = normalizeMac(config.SWARMBOOT_AGENT_MAC);
  if (!mac) throw new SwarmbootError('CONFIG_INVALID', `SWARMBOOT_AGENT_MAC=${JSON.stringify(config.SWARMBOOT_AGENT_MAC)}: not a MAC address`);
  const log = createLogger('agent', config.SWARMBOOT_LOG_LEVEL);
  const controller = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => controller.abort());
  try {
    const result = await runAgent({
      mac,
      dhcpServer: parseHostPort(config.SWARMBOOT_AGENT_DHCP, 'SWARMBOOT_AGENT_DHCP'),
      giaddr: config.SWARMBOOT_AGENT_GIADDR,
      tftpPort: config.SWARMBOOT_AGENT_TFTP_PORT,
      arch: config.SWARMBOOT_AGENT_ARCH,
      workDir: config.SWARMBOOT_AGENT_WORK,
      log,
      signal: controller.signal,
    });
    log.info(result, 'agent done');
  } catch (err) {
    log.error({ err }, 'agent failed');
    process.exitCode = 1;
  }
}
