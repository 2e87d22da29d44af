import type { EventBus, ImageCatalog, Logger, Registry, TrustedKey } from '@swarmboot/kit';
import { FactOutbox } from './adapters/fact-outbox.js';
import type { SchedulerStore } from './adapters/store.js';
import type { TimelineStore } from './adapters/timeline-store.js';
import { BootScripts, type BootSettings } from './boot.js';
import { AdmissionControl, type AdmissionControlSettings } from './admission-control.js';
import { Deployments, type AdmissionDefaults } from './deployments.js';
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
  /** admission defaults, the tick and the state timeouts */
  admission: AdmissionSettings;
  /** the keys a deployment that names none trusts (SWARMBOOT_SCHEDULER_TRUSTED_KEYS_FILE); empty: signatures not checked */
  trustedKeys?: readonly TrustedKey[];
}

/** The admission part of the config, resolved (see app.ts `admissionSettings`). */
export interface AdmissionSettings extends AdmissionDefaults, AdmissionControlSettings {
  /** times a stuck node is sent back to admitted before it is failed */
  timeoutRetries: number;
}

/**
 * The scheduler's core, in five parts that HTTP routes, NATS consumers and the admission tick are
 * thin transports over: the node inventory, deployments, the node life cycle (state machine, agent
 * reports, events), admission (waves, timeouts) and the boot path (iPXE scripts, install manifests);
 * and the outbox that publishes the node-state facts.
 */
export interface Scheduler {
  inventory: Inventory;
  deployments: Deployments;
  lifecycle: NodeLifecycle;
  admission: AdmissionControl;
  boot: BootScripts;
  /** publishes the node-state facts (its relay is started by the app) */
  outbox: FactOutbox;
}

/** Builds the parts, each with only what it needs. */
export function createScheduler(deps: SchedulerDeps): Scheduler {
  const { store, catalog, log, registry } = deps;
  const { bus, admission: a } = deps;
  const outbox = new FactOutbox(store, bus, log.child({ component: 'outbox' }), registry);
  const lifecycle = new NodeLifecycle({ store, bus, outbox, log, registry, installAttempts: deps.boot.installAttempts, timeoutRetries: a.timeoutRetries });
  const admission = new AdmissionControl({ store, bus, log, lifecycle, registry, settings: { tickMs: a.tickMs, timeoutsMs: a.timeoutsMs } });
  // a node that left the boot phase or finished may have freed a place: step its deployment now
  lifecycle.onCapacity((id) => admission.kick(id));
  const kick = (id: string) => admission.kick(id);
  const defaults = { canary: a.canary, failureBudget: a.failureBudget, maxInFlight: a.maxInFlight, ratePerSecond: a.ratePerSecond };
  return {
    inventory: new Inventory({ store, timeline: deps.timeline, log }),
    deployments: new Deployments({ store, catalog, log, bus, lifecycle, bootenvAvailable: deps.boot.bootenv.available, admission: defaults, kick, trustedKeys: deps.trustedKeys ?? [] }),
    lifecycle,
    admission,
    boot: new BootScripts({ store, catalog, registry, lifecycle, boot: deps.boot, syslogTarget: deps.syslogTarget }),
    outbox,
  };
}
