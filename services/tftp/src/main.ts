import { stat } from 'node:fs/promises';
import { SwarmbootError } from '@swarmboot/contracts';
import { parseHostPort, runService } from '@swarmboot/kit';
import { buildTftpServer } from './app.js';
import { loadConfig } from './config.js';

/** Fails start-up, naming the variable, when the root is missing or not a directory. */
async function assertDirectory(path: string, variable: string): Promise<void> {
  const st = await stat(path).catch((err: unknown) => {
    throw new SwarmbootError('CONFIG_INVALID', `${variable}=${JSON.stringify(path)}: ${(err as Error).message}`, { cause: err, context: { variables: [variable] } });
  });
  if (!st.isDirectory()) throw new SwarmbootError('CONFIG_INVALID', `${variable}=${JSON.stringify(path)}: not a directory`, { context: { variables: [variable] } });
}

/**
 * `swarmboot tftp`: parses the environment, connects NATS, listens on SWARMBOOT_TFTP_LISTEN and
 * serves SWARMBOOT_TFTP_ROOT, starts /healthz and /metrics on SWARMBOOT_OPS_LISTEN. Resolves once
 * listening; shutdown and failures go through the kit's skeleton (runService).
 */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = loadConfig(env);
  const listen = parseHostPort(config.SWARMBOOT_TFTP_LISTEN, 'SWARMBOOT_TFTP_LISTEN');
  const ops = parseHostPort(config.SWARMBOOT_OPS_LISTEN, 'SWARMBOOT_OPS_LISTEN');
  await assertDirectory(config.SWARMBOOT_TFTP_ROOT, 'SWARMBOOT_TFTP_ROOT');
  await runService({
    svc: 'tftp',
    logLevel: config.SWARMBOOT_LOG_LEVEL,
    ops,
    // standalone (SWARMBOOT_TFTP_EVENTS=off or SWARMBOOT_NATS_URL=none, `swarmboot tftp --root --listen`): no NATS, no events
    nats: { url: config.SWARMBOOT_TFTP_EVENTS === 'on' ? config.SWARMBOOT_NATS_URL : 'none', need: 'optional', replicas: config.SWARMBOOT_NATS_REPLICAS },
    async start({ log, lifecycle, registry, bus, onFatal }) {
      const server = buildTftpServer({
        log,
        bus,
        registry,
        config: {
          host: listen.host,
          port: listen.port,
          root: config.SWARMBOOT_TFTP_ROOT,
          rateBytesPerSec: config.SWARMBOOT_TFTP_RATE,
          maxTransfers: config.SWARMBOOT_TFTP_MAX_TRANSFERS,
          maxWindowsize: config.SWARMBOOT_TFTP_MAX_WINDOWSIZE,
        },
        onFatal,
      });
      await server.listen();
      lifecycle.add('tftp', () => server.close());
      return { checks: { tftp: () => server.listening } };
    },
  });
}
