import { stat } from 'node:fs/promises';
import type { Server } from 'node:http';
import { SwarmbootError } from '@swarmboot/contracts';
import { connectNats, createLogger, EventBus, Lifecycle, parseHostPort, Registry, startOpsServer } from '@swarmboot/kit';
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
 * listening; SIGTERM/SIGINT close everything through one Lifecycle.
 */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = loadConfig(env);
  const listen = parseHostPort(config.SWARMBOOT_TFTP_LISTEN, 'SWARMBOOT_TFTP_LISTEN');
  const ops = parseHostPort(config.SWARMBOOT_OPS_LISTEN, 'SWARMBOOT_OPS_LISTEN');
  await assertDirectory(config.SWARMBOOT_TFTP_ROOT, 'SWARMBOOT_TFTP_ROOT');
  const log = createLogger('tftp', config.SWARMBOOT_LOG_LEVEL);
  const lifecycle = new Lifecycle(log);
  try {
    // Standalone (SWARMBOOT_TFTP_EVENTS=off or SWARMBOOT_NATS_URL=none, `swarmboot tftp --root --listen`): no NATS, no events.
    const nc = config.SWARMBOOT_TFTP_EVENTS === 'on' && config.SWARMBOOT_NATS_URL !== 'none' ? await connectNats(config.SWARMBOOT_NATS_URL, 'swarmboot-tftp', log) : undefined;
    if (nc) lifecycle.add('nats', () => nc.drain());
    const bus = nc ? new EventBus(nc, 'swarmboot/tftp', log) : undefined;
    const registry = new Registry();
    const server = buildTftpServer({
      log,
      ...(bus ? { bus } : {}),
      registry,
      config: {
        host: listen.host,
        port: listen.port,
        root: config.SWARMBOOT_TFTP_ROOT,
        rateBytesPerSec: config.SWARMBOOT_TFTP_RATE,
        maxTransfers: config.SWARMBOOT_TFTP_MAX_TRANSFERS,
        maxWindowsize: config.SWARMBOOT_TFTP_MAX_WINDOWSIZE,
      },
      onFatal: (err) => lifecycle.fail(err),
    });
    await server.listen();
    lifecycle.add('tftp', () => server.close());
    const checks: Record<string, () => boolean> = { tftp: () => server.listening };
    if (nc) checks['nats'] = () => !nc.isClosed();
    const opsServer: Server = await startOpsServer({ host: ops.host, port: ops.port, registry, log, checks });
    lifecycle.add('ops', () => {
      const closed = new Promise<void>((resolve) => opsServer.close(() => resolve()));
      opsServer.closeAllConnections();
      return closed;
    });
    lifecycle.handleSignals();
  } catch (err) {
    await lifecycle.stop();
    throw err;
  }
}
