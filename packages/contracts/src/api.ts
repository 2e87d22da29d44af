import { Type, type Static } from '@sinclair/typebox';
import { ImageRecord } from './image.js';
import { DeploymentTarget, LeaseGranted, LogLine, NodeFailureClassified, NodeStateSchema, PowerCompleted, PowerFailed, PowerRequested, TftpTransfer } from './events.js';

/**
 * Shapes of the scheduler's public REST API (`/v1`). The fastify routes use these schemas, so
 * they are also the source of the OpenAPI document; the CLI and the agent use the types.
 */

export const ApiError = Type.Object({ code: Type.String(), message: Type.String() });
export type ApiError = Static<typeof ApiError>;

const NodeId = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$', description: 'node id: letters, digits, - and _' });
const Mac = Type.String({ pattern: '^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$' });

/**
 * Which disk of a real node the image goes to: `/dev/disk/by-path/…` or `by-path:…`,
 * `serial:…`, `wwn:…`, a size rule `size>=20G` / `size<=2T`, or a device path `/dev/sda`.
 * Without it the agent takes the smallest non-removable disk that is large enough.
 */
export const RootDiskHint = Type.String({ minLength: 1, maxLength: 200, pattern: '^\\S+$' });

export const NodeInput = Type.Object(
  {
    id: NodeId,
    mac: Mac,
    hostname: Type.Optional(Type.String({ maxLength: 63 })),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    rootDisk: Type.Optional(RootDiskHint),
  },
  { additionalProperties: false },
);
export type NodeInput = Static<typeof NodeInput>;

/**
 * PATCH /v1/nodes/:id, a JSON Merge Patch (RFC 7396) of the node's changeable fields: `labels`
 * merges key by key, a key set to null is removed. (BMC fields will join here.) Null comes first in
 * the union: with the APIs' type coercion (ajv coerceTypes) a string first would turn null into ''.
 */
export const NodePatch = Type.Object(
  { labels: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 253 }), Type.Union([Type.Null(), Type.String()], { description: 'the label value; null removes the label' }))) },
  { additionalProperties: false },
);
export type NodePatch = Static<typeof NodePatch>;

export const NodeImport = Type.Object({ nodes: Type.Array(NodeInput, { maxItems: 100000 }) }, { additionalProperties: false });
export type NodeImport = Static<typeof NodeImport>;

/** POST /v1/nodes/import */
export const ImportResult = Type.Object({
  imported: Type.Integer({ description: 'nodes created' }),
  updated: Type.Integer({ description: 'nodes that existed (same id and MAC): hostname and labels replaced' }),
});
export type ImportResult = Static<typeof ImportResult>;

/** Where a node's bytes came from (bytes). */
export const TransferStats = Type.Object({
  bytesFromSeeder: Type.Integer({ minimum: 0 }),
  bytesFromPeers: Type.Integer({ minimum: 0 }),
  bytesFromWebSeed: Type.Integer({ minimum: 0 }),
  bytesUploaded: Type.Integer({ minimum: 0 }),
  /** from the first byte asked to the image verified (ms) */
  downloadMs: Type.Number({ minimum: 0 }),
  /** pieces whose SHA-1 did not match (BEP 3): downloaded again, their senders blamed */
  piecesFailed: Type.Optional(Type.Integer({ minimum: 0 })),
  /** peers banned for sending corrupt pieces */
  peersBanned: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type TransferStats = Static<typeof TransferStats>;

export const Node = Type.Object({
  id: Type.String(),
  mac: Type.String(),
  hostname: Type.String(),
  labels: Type.Record(Type.String(), Type.String()),
  state: NodeStateSchema,
  deploymentId: Type.Optional(Type.String()),
  ip: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String()),
  rootDisk: Type.Optional(Type.String()),
  /** install attempts in the current deployment (real nodes; each boot of the install environment is one) */
  attempts: Type.Optional(Type.Integer({ minimum: 0 })),
  progress: Type.Optional(Type.Object({ bytes: Type.Integer(), total: Type.Integer() })),
  stats: Type.Optional(TransferStats),
  updatedAt: Type.String(),
});
export type Node = Static<typeof Node>;

/** Of a page of a list (GET /v1/nodes, /v1/deployments): pass it as `cursor` for the next page; absent on the last page. Opaque. */
export const NextCursor = Type.Optional(Type.String({ description: 'opaque; pass it as ?cursor= for the next page; absent on the last page' }));

/** A page of the nodes, in registration order (GET /v1/nodes). */
export const NodeList = Type.Object({ nodes: Type.Array(Node), nextCursor: NextCursor });
export type NodeList = Static<typeof NodeList>;

export const ImageList = Type.Object({ images: Type.Array(ImageRecord) });
export type ImageList = Static<typeof ImageList>;

export const AfterInstall = Type.Union([Type.Literal('reboot'), Type.Literal('kexec')]);
export type AfterInstall = Static<typeof AfterInstall>;

export const DeploymentInput = Type.Object(
  {
    image: Type.String({ minLength: 1 }),
    /** node ids; or use `selector` */
    nodes: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
    /** label selector `key=value[,key=value]`; `*` selects every node */
    selector: Type.Optional(Type.String()),
    /**
     * `node` (default): real machines, which boot the install environment over HTTP and write
     * their disks — the image must be `bootable`; `emulated`: the demo's agents on the server host.
     */
    target: Type.Optional(DeploymentTarget),
    /** what a real node does once released (or its linger time passed): `reboot` (default) or `kexec` into the installed kernel */
    afterInstall: Type.Optional(AfterInstall),
    /** how long an installed real node keeps seeding when the deployment is not released (s, default the scheduler's SWARMBOOT_LINGER_SECONDS) */
    lingerSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86400 })),
    /** nodes of the first wave (the canary); later waves wait until every canary node left the boot phase (default SWARMBOOT_SCHEDULER_CANARY_SIZE) */
    canary: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000 })),
    /** failed nodes allowed before the deployment pauses: below 1 a fraction of its nodes, from 1 a count (default SWARMBOOT_SCHEDULER_FAILURE_BUDGET) */
    failureBudget: Type.Optional(Type.Number({ minimum: 0, maximum: 100000 })),
    /** at most this many nodes in the boot phase at once, whatever the controller measures (default SWARMBOOT_SCHEDULER_MAX_IN_FLIGHT) */
    maxInFlight: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000 })),
    /** at most this many admissions per second (0: no limit; default SWARMBOOT_SCHEDULER_RATE_PER_SECOND) */
    ratePerSecond: Type.Optional(Type.Number({ minimum: 0, maximum: 100000 })),
    /**
     * Ed25519 public keys the deployment trusts (SPKI PEM, or the raw 32 bytes in base64): its
     * image must carry a manifest signed by one of them, checked at creation (IMAGE_NOT_SIGNED,
     * IMAGE_KEY_UNTRUSTED, IMAGE_SIGNATURE_INVALID, IMAGE_MANIFEST_MISMATCH: 422) and by every
     * agent before it writes a byte. Absent: the scheduler's SWARMBOOT_SCHEDULER_TRUSTED_KEYS_FILE
     * (none: images are not checked for a signature). Several keys: a key rotation in progress.
     */
    trustedKeys: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 1000 }), { minItems: 1, maxItems: 32 })),
  },
  { additionalProperties: false },
);
export type DeploymentInput = Static<typeof DeploymentInput>;

/** `paused`: over its failure budget, admits no more nodes until resumed; `cancelled`: stopped by an operator. */
export const DeploymentState = Type.Union([Type.Literal('running'), Type.Literal('paused'), Type.Literal('completed'), Type.Literal('released'), Type.Literal('cancelled')]);
export type DeploymentState = Static<typeof DeploymentState>;

/** The admission of a deployment's nodes into the boot phase, as its controller sees it now. */
export const AdmissionStatus = Type.Object({
  /** nodes the controller lets into the boot phase at once */
  window: Type.Integer({ minimum: 1 }),
  /** waves admitted so far (wave 0 is the canary) */
  waves: Type.Integer({ minimum: 0 }),
  canary: Type.Integer({ minimum: 1 }),
  maxInFlight: Type.Integer({ minimum: 1 }),
  /** 0: no limit */
  ratePerSecond: Type.Number({ minimum: 0 }),
  /** failed nodes allowed (count) since the start or the last resume */
  failureBudget: Type.Integer({ minimum: 0 }),
});
export type AdmissionStatus = Static<typeof AdmissionStatus>;

export const Deployment = Type.Object({
  id: Type.String(),
  image: Type.String(),
  state: DeploymentState,
  target: DeploymentTarget,
  createdAt: Type.String(),
  completedAt: Type.Optional(Type.String()),
  /** why the deployment is paused (`FAILURE_BUDGET_EXCEEDED: …`) */
  reason: Type.Optional(Type.String()),
  admission: Type.Optional(AdmissionStatus),
  /** keyIds of the Ed25519 keys whose signed image manifests it accepts (absent: signatures not checked) */
  trustedKeyIds: Type.Optional(Type.Array(Type.String())),
  /** node count per state */
  counts: Type.Record(Type.String(), Type.Integer()),
  nodes: Type.Array(Node),
});
export type Deployment = Static<typeof Deployment>;

/** A deployment without its nodes (GET /v1/deployments lists these). */
export const DeploymentSummary = Type.Omit(Deployment, ['nodes']);
export type DeploymentSummary = Static<typeof DeploymentSummary>;
/** A page of the deployments, newest first (GET /v1/deployments). */
export const DeploymentList = Type.Object({ deployments: Type.Array(DeploymentSummary), nextCursor: NextCursor });
export type DeploymentList = Static<typeof DeploymentList>;

/** What an agent needs to install its node (GET /v1/nodes/{id}/install). */
export const InstallManifest = Type.Object({
  nodeId: Type.String(),
  deploymentId: Type.String(),
  image: ImageRecord,
  /** syslog destination `host:port` (UDP, RFC 5424) */
  syslog: Type.String(),
  target: DeploymentTarget,
  /** the node's root-disk hint from the inventory (real nodes) */
  rootDisk: Type.Optional(Type.String()),
  afterInstall: AfterInstall,
  /** an installed real node seeds until released, or this long at most (ms) */
  lingerMs: Type.Integer({ minimum: 0 }),
  /**
   * the deployment's trusted Ed25519 public keys, each the raw 32 bytes in base64: when present the
   * agent installs only an image whose `signedManifest` one of them signed and that matches the
   * record and the .torrent (else IMAGE_NOT_SIGNED, IMAGE_KEY_UNTRUSTED, IMAGE_SIGNATURE_INVALID,
   * IMAGE_MANIFEST_MISMATCH, before any byte is written)
   */
  trustedKeys: Type.Optional(Type.Array(Type.String())),
});
export type InstallManifest = Static<typeof InstallManifest>;

export const AgentStage = Type.Union([
  Type.Literal('booted'),
  Type.Literal('downloading'),
  Type.Literal('verifying'),
  Type.Literal('installed'),
  Type.Literal('failed'),
]);
export type AgentStage = Static<typeof AgentStage>;

/** POST /v1/nodes/{id}/report */
export const AgentReport = Type.Object(
  {
    deploymentId: Type.String(),
    stage: AgentStage,
    bytes: Type.Optional(Type.Integer({ minimum: 0 })),
    total: Type.Optional(Type.Integer({ minimum: 0 })),
    reason: Type.Optional(Type.String({ maxLength: 2000 })),
    stats: Type.Optional(TransferStats),
  },
  { additionalProperties: false },
);
export type AgentReport = Static<typeof AgentReport>;

/**
 * `release`: the deployment released the node (stop seeding, reboot). `retry`: the failure was
 * recorded and the node should boot the install environment again (reboot; real nodes with
 * attempts left) instead of holding.
 */
export const AgentReportReply = Type.Object({ state: NodeStateSchema, release: Type.Boolean(), retry: Type.Optional(Type.Boolean()) });
export type AgentReportReply = Static<typeof AgentReportReply>;

/** GET /v1/nodes/{id}/logs: a page of log lines, oldest first; `id` is the Redis stream id to pass as `after` */
export const LogLines = Type.Object({
  lines: Type.Array(Type.Object({ id: Type.String(), line: Type.Unknown() })),
});
export type LogLines = Static<typeof LogLines>;

/**
 * Where a flight-recorder entry comes from (GET /v1/nodes/{id}/timeline, `?sources=`):
 * `dhcp` a lease granted (`Events.leaseGranted`), `tftp` a boot-file transfer completed or failed
 * (`Events.tftpTransferCompleted|Failed`), `state` a state change of the node, `progress` the
 * agent's download progress (at most one entry per SWARMBOOT_SCHEDULER_TIMELINE_PROGRESS_SECONDS),
 * `failure` the log sink classified one of its lines (`Events.nodeFailureClassified`), `power` a
 * power request for its BMC and its result (`Events.powerRequested|Completed|Failed`), `log` a
 * kernel or installer log line (the log sink's stream, read at query time).
 */
export const TimelineSource = { dhcp: 'dhcp', tftp: 'tftp', state: 'state', progress: 'progress', failure: 'failure', power: 'power', log: 'log' } as const;
export type TimelineSource = (typeof TimelineSource)[keyof typeof TimelineSource];
export const TimelineSourceSchema = Type.Union(Object.values(TimelineSource).map((s) => Type.Literal(s)));

/** What every timeline entry has: `id` is unique within the node's timeline (`<source>:<event id or stream id>`), `at` ISO 8601. */
const entry = <S extends TimelineSource, P extends Parameters<typeof Type.Object>[0]>(source: S, payload: P) =>
  Type.Object({ id: Type.String(), at: Type.String({ description: 'ISO 8601' }), source: Type.Literal(source), ...payload });

/** A state change (the node's timeline stream, written by the state transition itself). */
export const StateEntry = entry('state', {
  from: Type.Optional(NodeStateSchema),
  to: NodeStateSchema,
  deploymentId: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String()),
});
export const DhcpEntry = entry('dhcp', { lease: LeaseGranted });
export const TftpEntry = entry('tftp', { outcome: Type.Union([Type.Literal('completed'), Type.Literal('failed')]), transfer: TftpTransfer });
export const ProgressEntry = entry('progress', {
  deploymentId: Type.String(),
  stage: Type.String(),
  /** image bytes received so far, of `total` */
  bytes: Type.Integer({ minimum: 0 }),
  total: Type.Integer({ minimum: 0 }),
  /** bytes/s since the previous progress entry of the node, when there was one within 10 min */
  rate: Type.Optional(Type.Number({ minimum: 0 })),
});
export const FailureEntry = entry('failure', { failure: NodeFailureClassified });
/** A power request (`requested`, as the scheduler or `swarmboot power` published it) or its result (`completed`, `failed`, from the power service). */
export const PowerEntry = Type.Union([
  entry('power', { outcome: Type.Literal('requested'), power: PowerRequested }),
  entry('power', { outcome: Type.Literal('completed'), power: PowerCompleted }),
  entry('power', { outcome: Type.Literal('failed'), power: PowerFailed }),
]);
/** A log line as the log sink stored it (`line` is its LogLine; the raw text when the stored JSON is unreadable). */
export const LogEntry = entry('log', { line: Type.Union([LogLine, Type.String()]) });

export const TimelineEntry = Type.Union([StateEntry, DhcpEntry, TftpEntry, ProgressEntry, FailureEntry, ...PowerEntry.anyOf, LogEntry]);
export type TimelineEntry = Static<typeof TimelineEntry>;

/**
 * GET /v1/nodes/{id}/timeline: the node's flight recorder, every source merged in time order,
 * oldest first; the newest `limit` entries at or after `since`. `truncated` when older ones
 * (at or after `since`) were left out.
 */
export const NodeTimeline = Type.Object({ nodeId: Type.String(), entries: Type.Array(TimelineEntry), truncated: Type.Boolean() });
export type NodeTimeline = Static<typeof NodeTimeline>;
