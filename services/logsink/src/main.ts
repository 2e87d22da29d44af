import { parseAllowlist, parseHostPort, runService } from '@swarmboot/kit';
import { loadConfig } from './config.js';
import { buildLogsink } from './app.js';
import { loadFailureRules } from './domain/failure-rules.js';

/**
 * Starts the log sink: config from `env`, NATS and Redis, syslog over UDP (SWARMBOOT_SYSLOG_LISTEN)
 * and TCP (SWARMBOOT_SYSLOG_TCP_LISTEN), netconsole (SWARMBOOT_NETCONSOLE_LISTEN) and the ops endpoint (SWARMBOOT_OPS_LISTEN). Resolves once listening;
 * shutdown and failures go through the kit's skeleton (runService). The failure rules
 * (SWARMBOOT_FAILURE_RULES, else the shipped file) are checked before anything connects. Throws CONFIG_INVALID,
 * NATS_UNAVAILABLE, REDIS_UNAVAILABLE, or the bind error.
 */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = loadConfig(env);
  const failureRules = config.SWARMBOOT_FAILURE_RULES === '' ? loadFailureRules() : loadFailureRules(config.SWARMBOOT_FAILURE_RULES);
  await runService({
    svc: 'logsink',
    logLevel: config.SWARMBOOT_LOG_LEVEL,
    ops: parseHostPort(config.SWARMBOOT_OPS_LISTEN, 'SWARMBOOT_OPS_LISTEN'),
    nats: { url: config.SWARMBOOT_NATS_URL, need: 'required', replicas: config.SWARMBOOT_NATS_REPLICAS },
    redis: { url: config.SWARMBOOT_REDIS_URL },
    async start({ log, lifecycle, registry, bus, redis, onFatal }) {
      const allowed = parseAllowlist(config.SWARMBOOT_LOGSINK_ALLOWED_SUBNETS, 'SWARMBOOT_LOGSINK_ALLOWED_SUBNETS');
      const sink = buildLogsink({ log, bus, redis, registry, config, failureRules, allowed, onFatal, udpRecvBufferBytes: config.SWARMBOOT_LOGSINK_UDP_RECV_BUFFER_BYTES });
      await sink.listen();
      lifecycle.add('listeners', () => sink.close());
    },
  });
}
