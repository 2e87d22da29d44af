import { readFile } from 'node:fs/promises';
import { createLogger } from '@swarmboot/kit';
import { swarmbootArgs } from './boot-script.js';
import { failureReason } from './install.js';
import { runNodeAgent, writeNextStep } from './node-agent.js';

/** Where /init reads what to do after the agent exits 0 (agent/bootenv/init). */
export const NEXT_STEP_FILE = '/run/swarmboot/after';

/**
 * The agent's entry in the install environment (bundled as /opt/swarmboot/agent.mjs). Reads
 * `swarmboot.api=`, `swarmboot.node=`, `swarmboot.deployment=` from the kernel command line
 * (/proc/cmdline, or SWARMBOOT_CMDLINE), the leased address from SWARMBOOT_NODE_IP and the work
 * directory from SWARMBOOT_AGENT_WORK (a tmpfs, /var/lib/swarmboot), all set by /init.
 * Exit 0: NEXT_STEP_FILE says `reboot` or `kexec` (also after a failure the scheduler wants
 * retried); exit 1: the install failed for good and /init keeps a shell — reported to the
 * scheduler with its reason code, except when the scheduler gave no install manifest (unreachable
 * after the client's retries, or it refused the node: not in that deployment); exit 2: the
 * command line lacks what the agent needs.
 */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const log = createLogger('agent', env['SWARMBOOT_LOG_LEVEL'] === 'debug' ? 'debug' : 'info');
  const cmdline = env['SWARMBOOT_CMDLINE'] ?? (await readFile('/proc/cmdline', 'utf8'));
  const args = swarmbootArgs(cmdline.trim().split(/\s+/));
  const { api, node, deployment } = args;
  if (!api || !node || !deployment) {
    log.error({ cmdline }, 'kernel command line lacks swarmboot.api, swarmboot.node or swarmboot.deployment');
    process.exitCode = 2;
    return;
  }
  const controller = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => controller.abort());
  try {
    const result = await runNodeAgent({
      api,
      nodeId: node,
      deploymentId: deployment,
      localAddress: env['SWARMBOOT_NODE_IP'] || undefined,
      workDir: env['SWARMBOOT_AGENT_WORK'] ?? '/var/lib/swarmboot',
      log,
      signal: controller.signal,
    });
    await writeNextStep(env['SWARMBOOT_NEXT_STEP_FILE'] ?? NEXT_STEP_FILE, result.next);
    log.info({ next: result.next, disk: result.disk, reason: result.reason }, result.next === 'retry' ? 'install failed; the scheduler asks for another attempt' : 'agent done');
  } catch (err) {
    log.error({ err, reason: failureReason(err) }, 'install failed');
    process.exitCode = 1;
  }
}
