import { SwarmbootError, type InstallManifest } from '@swarmboot/contracts';
import { normalizeMac, type ImageCatalog, type Registry } from '@swarmboot/kit';
import { Counter } from 'prom-client';
import type { SchedulerStore } from './adapters/store.js';
import { bootDecision, mayInstall } from './domain/state-machine.js';
import { environmentScript, installScript, localBootScript, waitScript } from './protocol/ipxe.js';
import { requireNode } from './inventory.js';
import type { NodeLifecycle } from './node-lifecycle.js';

export interface BootSettings {
  publicUrl: string;
  /** emulated nodes: the kernel and initrd the demo's agents fetch over TFTP */
  tftpUrl: string;
  kernel: string;
  initrd: string;
  cmdline: string;
  /** real nodes: swarmboot's install environment */
  bootenv: {
    /** base URL of vmlinuz and initrd.img */
    url: string;
    cmdline: string;
    /** whether the environment can be served (its files exist); a deployment to real nodes is refused otherwise */
    available: () => Promise<boolean>;
  };
  /** netconsole target `ipv4:port`, undefined for none */
  netconsole: string | undefined;
  /** install attempts of a real node per deployment */
  installAttempts: number;
  /** default linger of an installed real node (s) */
  lingerSeconds: number;
}

export interface BootScriptsDeps {
  store: SchedulerStore;
  catalog: ImageCatalog;
  registry: Registry;
  /** moves the node as it boots, counts the install attempts of real nodes */
  lifecycle: Pick<NodeLifecycle, 'transition' | 'startInstallAttempt'>;
  boot: BootSettings;
  /** syslog `host:port` handed to agents */
  syslogTarget: string;
}

/** A queued node's iPXE script asks again after this many seconds. */
const WAIT_RETRY_SECONDS = 10;

/** The node-facing boot path: the iPXE script a node boots, and the manifest its agent installs. */
export class BootScripts {
  private readonly served: Counter<'decision'>;

  constructor(private readonly deps: BootScriptsDeps) {
    this.served = new Counter({ name: 'swarmboot_scheduler_boot_scripts_total', help: 'iPXE scripts served', labelNames: ['decision'], registers: [deps.registry] });
  }

  /**
   * GET /v1/boot/:mac — the iPXE script for the node with this MAC; moves an admitted node to
   * `booting`. Real nodes (target `node`) get the install environment over HTTP, each such boot
   * counting one install attempt; past SWARMBOOT_INSTALL_ATTEMPTS the node is failed
   * (ATTEMPTS_EXHAUSTED) and boots its local disk. Installed, released and failed nodes boot their
   * local disk. Throws VALIDATION (not a MAC), NODE_NOT_FOUND.
   */
  async bootScript(macText: string): Promise<{ nodeId: string; script: string }> {
    const mac = normalizeMac(macText);
    if (mac === undefined) throw new SwarmbootError('VALIDATION', `not a MAC address: ${JSON.stringify(macText.slice(0, 40))}`);
    const nodeId = await this.deps.store.nodeIdByMac(mac);
    const node = nodeId === undefined ? undefined : await this.deps.store.getNode(nodeId);
    if (!node) throw new SwarmbootError('NODE_NOT_FOUND', `no node has MAC ${mac}`, { context: { chaddr: mac } });
    const decision = bootDecision(node.state);
    this.served.inc({ decision });
    const b = this.deps.boot;
    const api = b.publicUrl.replace(/\/+$/, '');
    if (decision === 'wait') {
      return { nodeId: node.id, script: waitScript(`swarmboot: node ${node.id} is queued in deployment ${node.deploymentId ?? '-'}; waiting for admission`, `${api}/v1/boot/${mac}`, WAIT_RETRY_SECONDS) };
    }
    if (decision === 'local' || node.deploymentId === undefined) {
      const why =
        node.state === 'installed' || node.state === 'released'
          ? `installed by deployment ${node.deploymentId ?? '-'}`
          : node.state === 'failed'
            ? `failed in deployment ${node.deploymentId ?? '-'}: ${node.reason ?? 'no reason recorded'}`
            : `no deployment (state ${node.state})`;
      return { nodeId: node.id, script: localBootScript(`swarmboot: node ${node.id}: ${why}; booting from local disk`) };
    }
    const dep = await this.deps.store.getDeployment(node.deploymentId);
    if (dep?.target !== 'node') {
      await this.deps.lifecycle.transition(node.id, 'booting', { origin: 'event', cause: 'boot script fetched' });
      return { nodeId: node.id, script: installScript({ tftpUrl: b.tftpUrl, kernel: b.kernel, initrd: b.initrd, cmdline: b.cmdline, publicUrl: b.publicUrl, nodeId: node.id, deploymentId: node.deploymentId }) };
    }
    const started = await this.deps.lifecycle.startInstallAttempt(node);
    if ('failed' in started) {
      this.served.inc({ decision: 'local' });
      return { nodeId: node.id, script: localBootScript(`swarmboot: node ${node.id} failed: ${started.failed}; booting from local disk`) };
    }
    return {
      nodeId: node.id,
      script: environmentScript({
        bootenvUrl: b.bootenv.url, cmdline: b.bootenv.cmdline, publicUrl: b.publicUrl, nodeId: node.id, deploymentId: node.deploymentId,
        mac, syslog: this.deps.syslogTarget, netconsole: b.netconsole, attempt: started.attempt, attempts: b.installAttempts,
      }),
    };
  }

  /** GET /v1/nodes/:id/install. Throws NODE_NOT_FOUND, NOT_ADMITTED, IMAGE_NOT_FOUND. */
  async installManifest(nodeId: string): Promise<InstallManifest> {
    const node = await requireNode(this.deps.store, nodeId);
    const dep = node.deploymentId === undefined ? undefined : await this.deps.store.getDeployment(node.deploymentId);
    if (!mayInstall(node.state) || !dep) throw new SwarmbootError('NOT_ADMITTED', `node ${nodeId} is ${node.state}, not admitted in an active deployment`, { context: { nodeId, state: node.state } });
    const image = await this.deps.catalog.get(dep.image);
    if (!image) throw new SwarmbootError('IMAGE_NOT_FOUND', `image ${dep.image} of deployment ${dep.id} is no longer in the catalog`, { context: { image: dep.image } });
    const m: InstallManifest = {
      nodeId, deploymentId: dep.id, image, syslog: this.deps.syslogTarget, target: dep.target, afterInstall: dep.afterInstall,
      lingerMs: 1000 * (dep.lingerSeconds ?? this.deps.boot.lingerSeconds),
    };
    if (node.rootDisk !== undefined) m.rootDisk = node.rootDisk;
    // the agent checks the image's signed manifest against these before it writes a byte
    if (dep.trustedKeys !== undefined && dep.trustedKeys.length > 0) m.trustedKeys = dep.trustedKeys;
    return m;
  }
}
