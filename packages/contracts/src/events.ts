import { FormatRegistry, Type, type Static, type TSchema } from '@sinclair/typebox';
import { isIPv4 } from 'node:net';

// TypeBox's Value.Check rejects strings whose `format` it does not know; the schemas here use 'ipv4'.
if (!FormatRegistry.Has('ipv4')) FormatRegistry.Set('ipv4', (v) => isIPv4(v));

/**
 * Every event is a CloudEvents 1.0 JSON envelope (https://github.com/cloudevents/spec, v1.0.2 §3)
 * whose `data` is validated against the schema of its definition.
 */
export interface CloudEvent<D> {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  time: string;
  subject?: string;
  datacontenttype: 'application/json';
  data: D;
}

/**
 * A typed event definition: the only place a subject is spelled.
 * `subject` may end in `.*` — the last token is then an id filled in by `subjectOf` (a node id, …).
 * `durable` events go through JetStream (stream `SWARMBOOT`); the others are core NATS (chatty data).
 */
export interface EventDef<S extends TSchema> {
  readonly subject: string;
  readonly type: string;
  readonly schema: S;
  readonly durable: boolean;
}

export function defineEvent<S extends TSchema>(subject: string, schema: S, durable: boolean): EventDef<S> {
  return Object.freeze({ subject, type: subject.replace(/\.\*$/, ''), schema, durable });
}

/** The concrete subject of an event: `swarmboot.node.state.*` + `n-001` → `swarmboot.node.state.n-001`. */
export function subjectOf(def: EventDef<TSchema>, id?: string): string {
  if (!def.subject.endsWith('.*')) return def.subject;
  if (id === undefined || id === '' || /[.*> ]/.test(id)) {
    throw new Error(`subject ${def.subject} needs an id without '.', '*', '>' or spaces (got ${JSON.stringify(id)})`);
  }
  return def.subject.slice(0, -1) + id;
}

const Mac = Type.String({ pattern: '^([0-9a-f]{2}:){5}[0-9a-f]{2}$', description: 'lower-case colon-separated MAC' });
const Ipv4 = Type.String({ format: 'ipv4', pattern: '^\\d{1,3}(\\.\\d{1,3}){3}$' });

export const LeaseGranted = Type.Object({
  chaddr: Mac,
  yiaddr: Ipv4,
  giaddr: Ipv4,
  xid: Type.Integer({ minimum: 0, maximum: 0xffffffff }),
  leaseSeconds: Type.Integer({ minimum: 0 }),
  hostname: Type.Optional(Type.String()),
  nodeId: Type.Optional(Type.String()),
  /** RFC 4578 option 93 client system architecture, when the client sent it. */
  arch: Type.Optional(Type.Integer()),
  /** RFC 3004 option 77 user class ("iPXE" for iPXE). */
  userClass: Type.Optional(Type.String()),
  bootFile: Type.Optional(Type.String()),
});
export type LeaseGranted = Static<typeof LeaseGranted>;

export const TftpTransfer = Type.Object({
  transferId: Type.String(),
  clientAddress: Ipv4,
  clientPort: Type.Integer(),
  file: Type.String(),
  /** bytes sent (completed: the file size) */
  bytes: Type.Integer({ minimum: 0 }),
  durationMs: Type.Number({ minimum: 0 }),
  blksize: Type.Integer(),
  windowsize: Type.Integer(),
  retransmissions: Type.Integer({ minimum: 0 }),
  error: Type.Optional(Type.String()),
});
export type TftpTransfer = Static<typeof TftpTransfer>;

/**
 * How an image becomes a node's disk (DESIGN.md, "Real machines"):
 * - `rootfs-tar`: a root file system as tar, tar.gz or tar.zst; the agent partitions the disk (GPT:
 *   BIOS boot, EFI system, ext4 root), unpacks it, writes fstab and installs grub from the image's
 *   own chroot (SystemImager's file-based way);
 * - `raw-disk`: a whole disk (raw, .gz, .zst) streamed onto the device, then the backup GPT is
 *   moved to the disk's end and the last partition grown (Tinkerbell's image2disk way).
 */
export const ImageFormat = { rootfsTar: 'rootfs-tar', rawDisk: 'raw-disk' } as const;
export type ImageFormat = (typeof ImageFormat)[keyof typeof ImageFormat];
export const ImageFormatSchema = Type.Union([Type.Literal(ImageFormat.rootfsTar), Type.Literal(ImageFormat.rawDisk)]);

export const ImageAdded = Type.Object({
  name: Type.String(),
  file: Type.String(),
  format: ImageFormatSchema,
  /** the image boots on its own from a disk (kernel and boot loader inside): real nodes may get it */
  bootable: Type.Boolean(),
  size: Type.Integer({ minimum: 0 }),
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  infoHash: Type.String({ pattern: '^[0-9a-f]{40}$' }),
  pieceLength: Type.Integer(),
  torrentUrl: Type.String(),
  webSeedUrl: Type.String(),
});
export type ImageAdded = Static<typeof ImageAdded>;

export const NodeState = {
  registered: 'registered',
  queued: 'queued',
  admitted: 'admitted',
  dhcp: 'dhcp',
  booting: 'booting',
  installing: 'installing',
  verifying: 'verifying',
  installed: 'installed',
  released: 'released',
  failed: 'failed',
} as const;
export type NodeState = (typeof NodeState)[keyof typeof NodeState];
export const NodeStateSchema = Type.Union(Object.values(NodeState).map((s) => Type.Literal(s)));

export const NodeStateChanged = Type.Object({
  nodeId: Type.String(),
  deploymentId: Type.Optional(Type.String()),
  from: NodeStateSchema,
  to: NodeStateSchema,
  reason: Type.Optional(Type.String()),
});
export type NodeStateChanged = Static<typeof NodeStateChanged>;

/** What a deployment installs onto: real machines (`node`, the install environment) or the demo's emulated agents. */
export const DeploymentTarget = Type.Union([Type.Literal('node'), Type.Literal('emulated')]);
export type DeploymentTarget = Static<typeof DeploymentTarget>;

/** A deployment was created (POST /v1/deployments); its nodes' admissions follow as node state events. */
export const DeploymentCreated = Type.Object({
  deploymentId: Type.String(),
  image: Type.String(),
  target: DeploymentTarget,
  /** how many nodes it installs */
  nodes: Type.Integer({ minimum: 1 }),
  /** the label selector it was created with, if any */
  selector: Type.Optional(Type.String()),
  /** the name of the API token that created it (its tokens-file line), when tokens are configured */
  requestedBy: Type.Optional(Type.String()),
});
export type DeploymentCreated = Static<typeof DeploymentCreated>;

export const JobCompleted = Type.Object({
  deploymentId: Type.String(),
  image: Type.String(),
  installed: Type.Integer(),
  failed: Type.Integer(),
  durationMs: Type.Number(),
});
export type JobCompleted = Static<typeof JobCompleted>;

export const NodeProgress = Type.Object({
  nodeId: Type.String(),
  deploymentId: Type.String(),
  stage: Type.String(),
  /** bytes of the image received so far */
  bytes: Type.Integer({ minimum: 0 }),
  total: Type.Integer({ minimum: 0 }),
});
export type NodeProgress = Static<typeof NodeProgress>;

export const LogLine = Type.Object({
  nodeId: Type.String(),
  /** receive time, ISO 8601 */
  received: Type.String(),
  /** the message's own timestamp when it had one */
  timestamp: Type.Optional(Type.String()),
  source: Type.String({ description: 'sender ip:port' }),
  format: Type.Union([Type.Literal('rfc5424'), Type.Literal('rfc3164'), Type.Literal('netconsole')]),
  facility: Type.Integer({ minimum: 0, maximum: 23 }),
  severity: Type.Integer({ minimum: 0, maximum: 7 }),
  hostname: Type.Optional(Type.String()),
  app: Type.Optional(Type.String()),
  message: Type.String(),
  /** netconsole extended format: the kernel's record sequence number (printk's `seq`) */
  seq: Type.Optional(Type.Integer({ minimum: 0 })),
  /** netconsole extended format: the kernel's timestamp, µs since boot (CLOCK_MONOTONIC) */
  bootTimeUs: Type.Optional(Type.Integer({ minimum: 0 })),
  /** netconsole extended format: the record's dictionary (`KEY=value` lines, e.g. SUBSYSTEM, DEVICE) */
  fields: Type.Optional(Type.Record(Type.String(), Type.String())),
});
export type LogLine = Static<typeof LogLine>;

/**
 * The live feed of the log sink (`Events.logLines`, core NATS): the lines of one node that the
 * sink stored in one event-loop turn, oldest first, one message per node and turn. Replaced the
 * per-line `swarmboot.log.line.<node>` event (one message per line) in issue 14: a message and a
 * CloudEvents envelope per line were a quarter of the sink's CPU (docs/benchmarks.md "Log sink").
 */
export const LogLineBatch = Type.Object({
  nodeId: Type.String(),
  /** at least one; every line's `nodeId` is the batch's */
  lines: Type.Array(LogLine, { minItems: 1 }),
});
export type LogLineBatch = Static<typeof LogLineBatch>;

/** How bad a failure rule's match is: `warning` lines (a stalled swarm) do not mean the attempt failed. */
export const FailureSeverity = { critical: 'critical', error: 'error', warning: 'warning' } as const;
export type FailureSeverity = (typeof FailureSeverity)[keyof typeof FailureSeverity];
export const FailureSeveritySchema = Type.Union(Object.values(FailureSeverity).map((s) => Type.Literal(s)));

/**
 * The log sink matched a node's log line against its failure rules (services/logsink
 * `rules/failure-rules.yaml`): published once per node, install attempt and kind (one `warning`,
 * one failure: `critical` or `error`), for the first matching line.
 */
export const NodeFailureClassified = Type.Object({
  nodeId: Type.String(),
  /** the node's deployment when the line arrived (node hash field), if any */
  deploymentId: Type.Optional(Type.String()),
  /** the node's install attempt when the line arrived (node hash field `attempts`; 0 for nodes that count none) */
  attempt: Type.Integer({ minimum: 0 }),
  /** the rule's id in the rule file */
  ruleId: Type.String(),
  /** the reason code the rule assigns, an ErrorCodes key */
  code: Type.String(),
  severity: FailureSeveritySchema,
  /** the rule's human description */
  description: Type.String(),
  /** the matching line's message */
  line: Type.String(),
  format: LogLine.properties.format,
  /** when the sink received the line, ISO 8601 */
  received: Type.String(),
});
export type NodeFailureClassified = Static<typeof NodeFailureClassified>;

/**
 * A wave of a deployment's nodes was admitted into the boot phase (queued → admitted): wave 0 is
 * the canary, later waves follow as the admission controller's window frees (services/scheduler
 * `domain/admission.ts`).
 */
export const DeploymentWaveAdmitted = Type.Object({
  deploymentId: Type.String(),
  /** 0-based; 0 is the canary */
  wave: Type.Integer({ minimum: 0 }),
  nodes: Type.Array(Type.String(), { minItems: 1 }),
  /** the controller's boot-phase window after this wave (nodes) */
  window: Type.Integer({ minimum: 1 }),
  /** nodes in the boot phase (admitted, dhcp, booting) with this wave */
  inFlight: Type.Integer({ minimum: 0 }),
});
export type DeploymentWaveAdmitted = Static<typeof DeploymentWaveAdmitted>;

/** A deployment stopped admitting: its failures went over its failure budget. Nodes already admitted go on. */
export const DeploymentPaused = Type.Object({
  deploymentId: Type.String(),
  /** `CODE: text`, CODE an ErrorCodes key (FAILURE_BUDGET_EXCEEDED) */
  reason: Type.String(),
  /** nodes failed since the deployment started or was last resumed */
  failed: Type.Integer({ minimum: 0 }),
  /** the failures allowed (count) */
  budget: Type.Integer({ minimum: 0 }),
});
export type DeploymentPaused = Static<typeof DeploymentPaused>;

/** An operator resumed a paused deployment (POST /v1/deployments/{id}/resume); its failure budget starts afresh. */
export const DeploymentResumed = Type.Object({ deploymentId: Type.String() });
export type DeploymentResumed = Static<typeof DeploymentResumed>;

/** An operator cancelled a deployment (POST /v1/deployments/{id}/cancel): queued nodes went back to `registered`, active ones to `failed` (CANCELLED). */
export const DeploymentCancelled = Type.Object({
  deploymentId: Type.String(),
  dequeued: Type.Integer({ minimum: 0 }),
  failed: Type.Integer({ minimum: 0 }),
});
export type DeploymentCancelled = Static<typeof DeploymentCancelled>;

/**
 * What a power request asks of a node's BMC (services/power). `pxe-boot`: a one-time boot override to
 * PXE, then power on (when off) or a forced restart (when on) — the way a node is (re)installed;
 * `on`, `off`, `cycle`: the bare power actions; `status`: read the power state, change nothing.
 */
export const PowerAction = { pxeBoot: 'pxe-boot', on: 'on', off: 'off', cycle: 'cycle', status: 'status' } as const;
export type PowerAction = (typeof PowerAction)[keyof typeof PowerAction];
export const PowerActionSchema = Type.Union(Object.values(PowerAction).map((a) => Type.Literal(a)));

/**
 * How the power service talks to a BMC: DMTF Redfish (DSP0266) over HTTPS, IPMI 2.0 RMCP+ through
 * ipmitool, or QEMU's Machine Protocol (QMP) on a qemu VM's monitor socket — the VM lab's BMC.
 */
export const BmcDriver = { redfish: 'redfish', ipmi: 'ipmi', qmp: 'qmp' } as const;
export type BmcDriver = (typeof BmcDriver)[keyof typeof BmcDriver];
export const BmcDriverSchema = Type.Union(Object.values(BmcDriver).map((d) => Type.Literal(d)));

/**
 * Where a node's BMC is. `credentials` names an entry of the power service's credentials file —
 * secrets never travel in events. Redfish: `address` is a host name or IP (`https://` assumed) or a
 * base URL (`http://host:port`); `systemId` the ComputerSystem's id under /redfish/v1/Systems (absent:
 * the only member). IPMI: `address` the host, `port` the RMCP+ UDP port (623). Redfish and IPMI
 * need `credentials` (the power service refuses an entry without). QMP: `address` the absolute
 * path of the VM's QMP unix socket (`-qmp unix:PATH,server=on,wait=off`), no `credentials` (QMP
 * has no authentication: the socket's file permissions are its access control).
 */
export const BmcRef = Type.Object({
  driver: BmcDriverSchema,
  address: Type.String({ minLength: 1 }),
  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  systemId: Type.Optional(Type.String({ minLength: 1 })),
  credentials: Type.Optional(Type.String({ minLength: 1 })),
  /** Redfish: `session` (SessionService, X-Auth-Token, deleted afterwards) or `basic` (default) */
  auth: Type.Optional(Type.Union([Type.Literal('basic'), Type.Literal('session')])),
});
export type BmcRef = Static<typeof BmcRef>;

/**
 * A power request: one action on one node's BMC. The scheduler (recovering a stuck node) and
 * `swarmboot power` publish it; one power replica consumes it (durable consumer `power`). Without
 * `bmc`, the power service looks the node up in its inventory (SWARMBOOT_POWER_BMCS) by `nodeId`, then `mac`.
 */
export const PowerRequested = Type.Object({
  /** the caller's id for this request; the result events carry it */
  requestId: Type.String({ minLength: 1, maxLength: 128 }),
  /** the result's subject ends in it (`swarmboot.power.completed.<node>`): no '.', '*', '>' or spaces */
  nodeId: Type.String({ minLength: 1, pattern: '^[^.*> ]+$' }),
  mac: Type.Optional(Mac),
  action: PowerActionSchema,
  bmc: Type.Optional(BmcRef),
  /** why (`CODE: text` for a recovery), for the logs */
  reason: Type.Optional(Type.String({ maxLength: 1024 })),
});
export type PowerRequested = Static<typeof PowerRequested>;

/** Redfish PowerState (ComputerSystem schema: On, Off, PoweringOn, PoweringOff, Paused); IPMI's `on`/`off` map to On/Off. */
const PowerState = Type.String({ description: 'Redfish PowerState after the action (On, Off, PoweringOn, …)' });

/** A power request the BMC carried out (subject suffix: the node id). */
export const PowerCompleted = Type.Object({
  requestId: Type.String(),
  nodeId: Type.String(),
  action: PowerActionSchema,
  driver: BmcDriverSchema,
  /** BMC operations tried, 1 when the first one worked */
  attempts: Type.Integer({ minimum: 1 }),
  /** from the request's arrival to the result, ms */
  durationMs: Type.Number({ minimum: 0 }),
  /** the power state the BMC reported before the action (for `status`: the answer) */
  powerState: PowerState,
  /** set when this request did no BMC operation of its own: the request whose operation (and result) it shared */
  coalescedWith: Type.Optional(Type.String()),
});
export type PowerCompleted = Static<typeof PowerCompleted>;

/** A power request that failed for good: retries exhausted, or an error retrying cannot mend (subject suffix: the node id). */
export const PowerFailed = Type.Object({
  requestId: Type.String(),
  nodeId: Type.String(),
  action: PowerActionSchema,
  /** absent when no BMC was found */
  driver: Type.Optional(BmcDriverSchema),
  /** BMC operations tried (0: none, e.g. BMC_UNKNOWN) */
  attempts: Type.Integer({ minimum: 0 }),
  durationMs: Type.Number({ minimum: 0 }),
  /** an ErrorCodes key: BMC_TIMEOUT, BMC_AUTH_FAILED, BMC_UNKNOWN, … */
  code: Type.String(),
  /** the last error, with the BMC's own message (Redfish @Message.ExtendedInfo, ipmitool's stderr) */
  message: Type.String(),
  /** set when this request did no BMC operation of its own: the request whose operation (and result) it shared */
  coalescedWith: Type.Optional(Type.String()),
});
export type PowerFailed = Static<typeof PowerFailed>;

/** All events. Subjects follow `swarmboot.<domain>.<event>[.<id>]` (DESIGN.md, Coordination). */
export const Events = {
  leaseGranted: defineEvent('swarmboot.dhcp.lease.granted', LeaseGranted, true),
  tftpTransferStarted: defineEvent('swarmboot.tftp.transfer.started', TftpTransfer, false),
  tftpTransferCompleted: defineEvent('swarmboot.tftp.transfer.completed', TftpTransfer, true),
  tftpTransferFailed: defineEvent('swarmboot.tftp.transfer.failed', TftpTransfer, true),
  imageAdded: defineEvent('swarmboot.image.added', ImageAdded, true),
  nodeStateChanged: defineEvent('swarmboot.node.state.*', NodeStateChanged, true),
  deploymentCreated: defineEvent('swarmboot.deployment.created', DeploymentCreated, true),
  jobCompleted: defineEvent('swarmboot.job.completed', JobCompleted, true),
  nodeProgress: defineEvent('swarmboot.progress.*', NodeProgress, false),
  logLines: defineEvent('swarmboot.log.lines.*', LogLineBatch, false),
  nodeFailureClassified: defineEvent('swarmboot.node.failure.classified.*', NodeFailureClassified, true),
  deploymentWaveAdmitted: defineEvent('swarmboot.deployment.wave.admitted', DeploymentWaveAdmitted, true),
  deploymentPaused: defineEvent('swarmboot.deployment.paused', DeploymentPaused, true),
  deploymentResumed: defineEvent('swarmboot.deployment.resumed', DeploymentResumed, true),
  deploymentCancelled: defineEvent('swarmboot.deployment.cancelled', DeploymentCancelled, true),
  powerRequested: defineEvent('swarmboot.power.requested', PowerRequested, true),
  powerCompleted: defineEvent('swarmboot.power.completed.*', PowerCompleted, true),
  powerFailed: defineEvent('swarmboot.power.failed.*', PowerFailed, true),
} as const;

/** The JetStream stream holding every durable event. */
export const Stream = {
  name: 'SWARMBOOT',
  subjects: ['swarmboot.dhcp.>', 'swarmboot.tftp.transfer.completed', 'swarmboot.tftp.transfer.failed', 'swarmboot.image.>', 'swarmboot.node.>', 'swarmboot.job.>', 'swarmboot.deployment.>', 'swarmboot.power.>'],
  /** keep a week of events: the flight recorder of a deployment (ms) */
  maxAgeMs: 7 * 24 * 3600 * 1000,
} as const;
