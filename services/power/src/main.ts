import { readFileSync } from 'node:fs';
import { parseHostPort, runService } from '@swarmboot/kit';
import { SwarmbootError } from '@swarmboot/contracts';
import { buildPower } from './app.js';
import { loadConfig } from './config.js';
import { loadInventory, SecretPaths } from './domain/inventory.js';
import { IpmiDriver } from './drivers/ipmi.js';
import { QmpDriver } from './drivers/qmp.js';
import { RedfishDriver } from './drivers/redfish.js';

/**
 * `swarmboot power`: wiring only. Parses the environment, reads the BMC inventory
 * (SWARMBOOT_POWER_BMCS), the credentials (SWARMBOOT_POWER_CREDENTIALS_FILE) and the CA
 * (SWARMBOOT_POWER_TLS_CA_FILE) before anything connects, connects NATS, consumes power requests,
 * starts the ops endpoint. The root logger redacts every password path (SecretPaths).
 * Throws CONFIG_INVALID or NATS_UNAVAILABLE.
 */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = loadConfig(env);
  const inventory = loadInventory(config.SWARMBOOT_POWER_BMCS, config.SWARMBOOT_POWER_CREDENTIALS_FILE);
  let ca: string | undefined;
  if (config.SWARMBOOT_POWER_TLS_CA_FILE !== '') {
    try {
      ca = readFileSync(config.SWARMBOOT_POWER_TLS_CA_FILE, 'utf8');
    } catch (err) {
      throw new SwarmbootError('CONFIG_INVALID', `SWARMBOOT_POWER_TLS_CA_FILE=${config.SWARMBOOT_POWER_TLS_CA_FILE}: ${(err as Error).message}`);
    }
  }
  await runService({
    svc: 'power',
    logLevel: config.SWARMBOOT_LOG_LEVEL,
    redact: SecretPaths,
    ops: parseHostPort(config.SWARMBOOT_OPS_LISTEN, 'SWARMBOOT_OPS_LISTEN'),
    nats: { url: config.SWARMBOOT_NATS_URL, need: 'required', replicas: config.SWARMBOOT_NATS_REPLICAS },
    async start({ log, lifecycle, registry, bus }) {
      const redfish = new RedfishDriver({ timeoutMs: config.SWARMBOOT_POWER_TIMEOUT_MS, ca, insecure: config.SWARMBOOT_POWER_TLS_INSECURE });
      const power = buildPower({
        log: log.child({ component: 'power' }),
        bus,
        registry,
        inventory,
        drivers: {
          redfish,
          ipmi: new IpmiDriver({ ipmitool: config.SWARMBOOT_POWER_IPMITOOL, timeoutMs: config.SWARMBOOT_POWER_TIMEOUT_MS }),
          qmp: new QmpDriver({ timeoutMs: config.SWARMBOOT_POWER_TIMEOUT_MS }),
        },
        limits: {
          maxInFlight: config.SWARMBOOT_POWER_MAX_IN_FLIGHT,
          ratePerSecond: config.SWARMBOOT_POWER_RATE_PER_SECOND,
          coalesceMs: config.SWARMBOOT_POWER_COALESCE_MS,
          retry: { retries: config.SWARMBOOT_POWER_RETRIES, baseMs: config.SWARMBOOT_POWER_RETRY_BASE_MS, maxMs: config.SWARMBOOT_POWER_RETRY_MAX_MS },
        },
      });
      await power.start();
      lifecycle.add('power', async () => {
        await power.close();
        await redfish.close();
      });
      if (config.SWARMBOOT_POWER_TLS_INSECURE) log.warn('SWARMBOOT_POWER_TLS_INSECURE: Redfish BMC certificates are not verified');
      log.info({ bmcs: inventory.size, maxInFlight: config.SWARMBOOT_POWER_MAX_IN_FLIGHT, ratePerSecond: config.SWARMBOOT_POWER_RATE_PER_SECOND }, 'consuming power requests');
    },
  });
}
