import { randomUUID } from 'node:crypto';
import { Events, SwarmbootError, type PowerAction, type PowerCompleted, type PowerFailed } from '@swarmboot/contracts';
import { connectNats, EventBus, type Logger } from '@swarmboot/kit';

/** How a power request ended, as the power service published it. */
export type PowerResult = { kind: 'completed'; data: PowerCompleted } | { kind: 'failed'; data: PowerFailed };

/**
 * `swarmboot power NODE ACTION`: publishes swarmboot.power.requested for `nodeId` (the power
 * service finds its BMC in SWARMBOOT_POWER_BMCS) and waits for swarmboot.power.completed/failed of
 * that request, listening before it publishes. Throws NATS_UNAVAILABLE, or TIMEOUT after
 * `timeoutMs` (no power service running, or the BMC's retries take longer).
 */
export async function requestPower(natsUrl: string, nodeId: string, action: PowerAction, timeoutMs: number, log: Logger): Promise<PowerResult> {
  const nc = await connectNats(natsUrl, 'swarmboot-cli', log);
  try {
    const bus = new EventBus(nc, 'swarmboot/cli', log);
    const requestId = randomUUID();
    let settle: (r: PowerResult) => void = () => undefined;
    const result = new Promise<PowerResult>((resolve) => (settle = resolve));
    const stops = [
      bus.subscribe(Events.powerCompleted, (data) => {
        if (data.requestId === requestId) settle({ kind: 'completed', data });
      }, nodeId),
      bus.subscribe(Events.powerFailed, (data) => {
        if (data.requestId === requestId) settle({ kind: 'failed', data });
      }, nodeId),
    ];
    await nc.flush();
    await bus.publish(Events.powerRequested, { requestId, nodeId, action });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SwarmbootError('TIMEOUT', `no result for power ${action} ${nodeId} within ${timeoutMs / 1000} s (is the power service running?)`)), timeoutMs);
    });
    try {
      return await Promise.race([result, timeout]);
    } finally {
      clearTimeout(timer);
      for (const stop of stops) stop();
    }
  } finally {
    await nc.drain();
  }
}
