import type { EventBus, ImageCatalog, Logger, Registry } from '@swarmboot/kit';
import type { SchedulerStore } from './adapters/store.js';
import type { TimelineStore } from './adapters/timeline-store.js';
import { BootScripts, type BootSettings } from './boot.js';
import { Deployments } from './deployments.js';
import { Inventory } from './inventory.js';
import { NodeLifecycle } from './node-lifecycle.js';

export interface SchedulerDeps {
  store: SchedulerStore;
  /** the nodes' flight recorders */
  timeline: TimelineStore;
  catalog: ImageCatalog;
  bus: EventBus;
  log: Logger;
  /** metrics of every part go here */
  registry: Registry;
  boot: BootSettings;
  /** syslog `host:port` handed to agents */
  syslogTarget: string;
}

/**
 * The scheduler's core, in four parts that HTTP routes and NATS consumers are thin transports
 * over: the node inventory, deployments, the node life cycle (state machine, agent reports,
 * events) and the boot path (iPXE scripts, install manifests).
 */
export interface Scheduler {
  inventory: Inventory;
  deployments: Deployments;
  lifecycle: NodeLifecycle;
  boot: BootScripts;
}

/** Builds the parts, each with only what it needs. */
export function createScheduler(deps: SchedulerDeps): Scheduler {
  const { store, catalog, log, registry } = deps;
  const lifecycle = new NodeLifecycle({ store, bus: deps.bus, log, registry, installAttempts: deps.boot.installAttempts });
  return {
    inventory: new Inventory({ store, timeline: deps.timeline, log }),
    deployments: new Deployments({ store, catalog, log, lifecycle, bootenvAvailable: deps.boot.bootenv.available }),
    lifecycle,
    boot: new BootScripts({ store, catalog, registry, lifecycle, boot: deps.boot, syslogTarget: deps.syslogTarget }),
  };
}
