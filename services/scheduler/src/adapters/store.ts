import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Value } from '@sinclair/typebox/value';
import { NodeState, RedisKeys, TransferStats, type AfterInstall, type DeploymentState, type DeploymentTarget, type Node } from '@swarmboot/contracts';
import { NodeInventory } from '@swarmboot/kit';
import type { ControllerState } from '../domain/admission.js';
import type { NodeRegistration } from '../domain/inventory.js';
import { bootOutcome } from '../domain/state-machine.js';
import type { Position } from '../protocol/cursor.js';
import { ADMIT, ADMIT_WAVE, CANCEL_DEPLOYMENT, COUNT_IF_EXISTS, PAUSE_DEPLOYMENT, READ_OUTBOX, RELEASE_DEPLOYMENT, RELEASE_OUTBOX, RESUME_DEPLOYMENT, SET_IP, TRANSITION, UPSERT_NODES } from './scripts.js';

/** A timeline stream keeps about this many entries per node (XADD MAXLEN ~). */
const TIMELINE_MAXLEN = 1000;

/** A node as stored, with the fields the API does not show. */
export interface StoredNode extends Node {
  createdAt: string;
  wave?: number;
  /** timeouts in a timed state in the current deployment (each sent the node back to admitted) */
  timeouts?: number;
}

/** What a deployment asks of its nodes beyond the image (stored as JSON in the deployment hash's `options`). */
export interface DeploymentOptions {
  target: DeploymentTarget;
  afterInstall: AfterInstall;
  /** undefined: the scheduler's default */
  lingerSeconds?: number | undefined;
  /** admission settings, resolved at creation (the deployment's own, else the scheduler's defaults) */
  canary: number;
  /** failed nodes allowed before a pause (a count, resolved from a fraction at creation) */
  failureBudget: number;
  maxInFlight: number;
  /** 0: no limit */
  ratePerSecond: number;
  /** Ed25519 public keys (raw 32 bytes, base64) whose signed image manifests the agents accept; undefined or empty: none checked */
  trustedKeys?: string[] | undefined;
}

/** A deployment as stored (without its nodes' records). */
export interface DeploymentRecord extends DeploymentOptions {
  id: string;
  image: string;
  state: DeploymentState;
  /** why it is paused or cancelled */
  reason?: string;
  createdAt: string;
  createdAtMs: number;
  completedAt?: string;
  nodeIds: string[];
  total: number;
  installed: number;
  failed: number;
  /** the admission controller's state and its compare-and-set version */
  controller: ControllerState | undefined;
  controllerV: number;
  /** waves admitted so far */
  waves: number;
  /** nodes that left the boot phase forward / backward (timeouts, retries, failures) so far */
  bootDone: number;
  bootFailed: number;
  /** `failed` at the last resume: the failure budget counts from there */
  budgetBase: number;
}

export type CasResult =
  | { kind: 'ok' }
  | { kind: 'missing' }
  | { kind: 'stale'; state: string; deploymentId: string }
  | { kind: 'completed'; installed: number; failed: number; createdAtMs: number; image: string; deploymentState: string };

export type UpsertResult = { kind: 'ok'; imported: number; updated: number } | { kind: 'conflict'; code: 'NODE_EXISTS' | 'MAC_IN_USE' | 'HOSTNAME_IN_USE'; index: number; owner: string };

export interface AdmitNode {
  id: string;
  expectedState: NodeState;
  expectedDeploymentId: string | undefined;
  steps: NodeState[];
  wave: number | undefined;
}

/**
 * The scheduler's state in Redis: nodes (`RedisKeys.node`, indexes by MAC, hostname and IP),
 * deployments, timelines. Every multi-key change is one Lua script (see scripts.ts).
 */
export class SchedulerStore {
  private readonly inventory: NodeInventory;

  constructor(private readonly redis: Redis) {
    this.inventory = new NodeInventory(redis);
  }

  async upsertNodes(nodes: readonly NodeRegistration[]): Promise<UpsertResult> {
    const args: string[] = [RedisKeys.node(''), RedisKeys.nodeByMac(''), RedisKeys.nodeByHostname(''), RedisKeys.nodeTimeline(''), new Date().toISOString(), String(TIMELINE_MAXLEN)];
    for (const n of nodes) args.push(n.id, n.mac, n.hostname, JSON.stringify(n.labels), n.rootDisk ?? '');
    const r = (await UPSERT_NODES.run(this.redis, [RedisKeys.nodes], args)) as [string, number, number | string];
    if (r[0] === 'ok') return { kind: 'ok', imported: Number(r[1]), updated: Number(r[2]) };
    return { kind: 'conflict', code: r[0] as 'NODE_EXISTS' | 'MAC_IN_USE' | 'HOSTNAME_IN_USE', index: Number(r[1]), owner: String(r[2]) };
  }

  /** Counts one more install attempt of a node in its current deployment (reset at admission); returns the new count. */
  async incrAttempts(id: string): Promise<number> {
    return this.redis.hincrby(RedisKeys.node(id), 'attempts', 1);
  }

  async getNode(id: string): Promise<StoredNode | undefined> {
    return parseNode(await this.redis.hgetall(RedisKeys.node(id)));
  }

  /** Records in the order of `ids`; undefined where a node does not exist. */
  async getNodes(ids: readonly string[]): Promise<(StoredNode | undefined)[]> {
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(RedisKeys.node(id));
    const res = (await pipe.exec()) ?? [];
    return res.map(([err, h]) => {
      if (err) throw err;
      return parseNode(h as Record<string, string>);
    });
  }

  /** Every node, in registration order. */
  async listNodes(): Promise<StoredNode[]> {
    const ids = await this.redis.zrange(RedisKeys.nodes, 0, -1);
    return (await this.getNodes(ids)).filter((n): n is StoredNode => n !== undefined);
  }

  /** Up to `limit` nodes after `after`, in registration order; `next` when more follow. */
  async pageNodes(limit: number, after: Position | undefined): Promise<{ nodes: StoredNode[]; next?: Position }> {
    const { members, next } = await this.page(RedisKeys.nodes, 'asc', limit, after);
    const nodes = (await this.getNodes(members)).filter((n): n is StoredNode => n !== undefined);
    return next === undefined ? { nodes } : { nodes, next };
  }

  async nodeIdByMac(mac: string): Promise<string | undefined> {
    return (await this.redis.get(RedisKeys.nodeByMac(mac))) ?? undefined;
  }

  /** The node using `ip`: its DHCP lease holder, else this store's ip index (kit's `NodeInventory.byIp`). */
  async nodeIdByIp(ip: string): Promise<string | undefined> {
    return (await this.inventory.byIp(ip))?.id;
  }

  /**
   * Stores the node's leased address and indexes it (`RedisKeys.nodeByIp`, so a TFTP event can be
   * tied to a node after the DHCP server's lease key expired); false when the node does not exist.
   */
  async setNodeIp(id: string, ip: string): Promise<boolean> {
    const r = await SET_IP.run(this.redis, [RedisKeys.node(id), RedisKeys.nodeByIp(ip)], [RedisKeys.nodeByIp(''), id, ip, new Date().toISOString()]);
    return Number(r) === 1;
  }

  /**
   * Compare-and-set of a node's state (see scripts.ts TRANSITION). `fields`: node hash fields to
   * set together ('' deletes); `counter`: the deployment counter this transition finishes;
   * `expectUpdatedAt`: also require the node's `updatedAt` (nothing happened to it since it was read).
   * A transition out of the boot phase is counted for the admission controller (`bootOutcome`).
   */
  async casTransition(
    node: { id: string; state: NodeState; deploymentId?: string | undefined },
    to: NodeState,
    opts: { reason?: string | undefined; fields?: Record<string, string>; counter?: 'installed' | 'failed' | undefined; expectUpdatedAt?: string } = {},
  ): Promise<CasResult> {
    const dep = node.deploymentId ?? '';
    const keys = [RedisKeys.node(node.id), RedisKeys.nodeTimeline(node.id), dep === '' ? RedisKeys.node(node.id) : RedisKeys.deployment(dep), RedisKeys.factOutbox];
    const now = new Date();
    const args: string[] = [node.state, to, dep, now.toISOString(), opts.reason ?? '', String(TIMELINE_MAXLEN), opts.counter ?? '', node.state === to ? '' : (bootOutcome(node.state, to) ?? ''), opts.expectUpdatedAt ?? '', randomUUID(), node.id, String(now.getTime())];
    for (const [k, v] of Object.entries(opts.fields ?? {})) args.push(k, v);
    const r = (await TRANSITION.run(this.redis, keys, args)) as string[];
    switch (r[0]) {
      case 'ok':
        return { kind: 'ok' };
      case 'missing':
        return { kind: 'missing' };
      case 'stale':
        return { kind: 'stale', state: r[1] ?? '', deploymentId: r[2] ?? '' };
      default:
        return { kind: 'completed', installed: Number(r[1]), failed: Number(r[2]), createdAtMs: Number(r[3]), image: r[4] ?? '', deploymentState: r[5] ?? '' };
    }
  }

  /** Creates deployment `id` with its admission controller and applies each node's admission steps (see scripts.ts ADMIT). */
  async admit(
    id: string,
    image: string,
    options: DeploymentOptions,
    controller: ControllerState,
    nodes: readonly AdmitNode[],
  ): Promise<{ kind: 'ok' } | { kind: 'exists' } | { kind: 'stale'; nodeId: string; state: string }> {
    const now = new Date();
    const keys = [RedisKeys.deployment(id), RedisKeys.deployments, RedisKeys.activeDeployments, RedisKeys.factOutbox];
    const waves = nodes.some((n) => n.wave !== undefined) ? 1 : 0;
    const args: string[] = [id, image, now.toISOString(), String(now.getTime()), String(TIMELINE_MAXLEN), JSON.stringify(nodes.map((n) => n.id)), JSON.stringify(options), JSON.stringify(controller), String(waves), randomUUID()];
    for (const n of nodes) {
      keys.push(RedisKeys.node(n.id), RedisKeys.nodeTimeline(n.id));
      args.push(n.expectedState, n.expectedDeploymentId ?? '', n.steps.join(','), n.wave === undefined ? '' : String(n.wave));
    }
    const r = (await ADMIT.run(this.redis, keys, args)) as [string, number?, string?];
    if (r[0] === 'ok') return { kind: 'ok' };
    if (r[0] === 'exists') return { kind: 'exists' };
    return { kind: 'stale', nodeId: nodes[Number(r[1])]?.id ?? '', state: r[2] ?? '' };
  }

  async getDeployment(id: string): Promise<DeploymentRecord | undefined> {
    return parseDeployment(await this.redis.hgetall(RedisKeys.deployment(id)));
  }

  /** Up to `limit` deployments after `after`, newest first; `next` when more follow. */
  async pageDeployments(limit: number, after: Position | undefined): Promise<{ deployments: DeploymentRecord[]; next?: Position }> {
    const { members, next } = await this.page(RedisKeys.deployments, 'desc', limit, after);
    const pipe = this.redis.pipeline();
    for (const id of members) pipe.hgetall(RedisKeys.deployment(id));
    const res = (await pipe.exec()) ?? [];
    const deployments = res.map(([, h]) => parseDeployment(h as Record<string, string>)).filter((d): d is DeploymentRecord => d !== undefined);
    return next === undefined ? { deployments } : { deployments, next };
  }

  /**
   * Up to `limit` members of the sorted set `key` after `after` (exclusive), by score ascending
   * or descending, and the position of the last one when more follow. Members of equal score come
   * in Redis's order, by name (reversed when descending), so a page that ended inside a tie (two
   * deployments in one ms) resumes by name. One MULTI reads the tie and what follows at one instant.
   */
  private async page(key: string, order: 'asc' | 'desc', limit: number, after: Position | undefined): Promise<{ members: string[]; next?: Position }> {
    const asc = order === 'asc';
    const multi = this.redis.multi();
    const range = (from: string, to: string, ...rest: (string | number)[]) => multi.call(asc ? 'ZRANGEBYSCORE' : 'ZREVRANGEBYSCORE', key, from, to, 'WITHSCORES', ...rest);
    if (after !== undefined) range(String(after.score), String(after.score));
    range(after === undefined ? (asc ? '-inf' : '+inf') : `(${after.score}`, asc ? '+inf' : '-inf', 'LIMIT', 0, limit + 1);
    const res = (await multi.exec()) ?? [];
    const replies = res.map(([err, r]) => {
      if (err) throw err;
      return positions(r as string[]);
    });
    const ties = after === undefined ? [] : (replies.shift() ?? []).filter((p) => (asc ? p.member > after.member : p.member < after.member));
    const rows = [...ties, ...(replies[0] ?? [])];
    const taken = rows.slice(0, limit);
    const last = taken.at(-1);
    return rows.length > limit && last !== undefined ? { members: taken.map((p) => p.member), next: last } : { members: taken.map((p) => p.member) };
  }

  /**
   * Stores a step of deployment `id`'s admission controller and admits `wave`'s nodes, if the
   * controller is still at version `expectedV` and the deployment running (see scripts.ts
   * ADMIT_WAVE). false: another replica stepped first, or the deployment changed; nothing changed.
   */
  async admitWave(id: string, expectedV: number, controller: ControllerState, wave: { number: number; nodeIds: readonly string[] } | undefined): Promise<boolean> {
    const keys = [RedisKeys.deployment(id), RedisKeys.factOutbox];
    const args = [String(expectedV), JSON.stringify(controller), new Date().toISOString(), String(TIMELINE_MAXLEN), wave === undefined ? '' : String(wave.number), randomUUID()];
    for (const nodeId of wave?.nodeIds ?? []) {
      keys.push(RedisKeys.node(nodeId), RedisKeys.nodeTimeline(nodeId));
      args.push(nodeId);
    }
    const r = (await ADMIT_WAVE.run(this.redis, keys, args)) as string[];
    return r[0] === 'ok';
  }

  /** Pauses a running deployment; true when this call did. */
  async pause(id: string, reason: string): Promise<boolean> {
    return Number(await PAUSE_DEPLOYMENT.run(this.redis, [RedisKeys.deployment(id)], [reason, new Date().toISOString()])) === 1;
  }

  /** Resumes a paused deployment (see scripts.ts RESUME_DEPLOYMENT): 'resumed', 'missing', or the state it is in. */
  async resume(id: string): Promise<'resumed' | 'missing' | DeploymentState> {
    return String(await RESUME_DEPLOYMENT.run(this.redis, [RedisKeys.deployment(id)], [])) as 'resumed' | 'missing' | DeploymentState;
  }

  /**
   * Cancels deployment `id` over its nodes `nodeIds` in one script (see scripts.ts
   * CANCEL_DEPLOYMENT); `activeStates`: the states whose nodes are failed with `reason`.
   */
  async cancel(
    id: string,
    nodeIds: readonly string[],
    reason: string,
    activeStates: readonly NodeState[],
  ): Promise<{ kind: 'missing' } | { kind: 'finished'; state: string } | { kind: 'ok'; dequeued: string[]; failed: { id: string; from: NodeState }[] }> {
    const keys = [RedisKeys.deployment(id), RedisKeys.activeDeployments, RedisKeys.factOutbox];
    for (const nodeId of nodeIds) keys.push(RedisKeys.node(nodeId), RedisKeys.nodeTimeline(nodeId));
    const r = (await CANCEL_DEPLOYMENT.run(this.redis, keys, [new Date().toISOString(), String(TIMELINE_MAXLEN), reason, activeStates.join(','), randomUUID()])) as [string, (string[] | string)?, string[]?, string[]?];
    if (r[0] === 'missing') return { kind: 'missing' };
    if (r[0] === 'finished') return { kind: 'finished', state: String(r[1]) };
    const from = r[3] ?? [];
    return { kind: 'ok', dequeued: (r[1] as string[] | undefined) ?? [], failed: (r[2] ?? []).map((nodeId, i) => ({ id: nodeId, from: from[i] as NodeState })) };
  }

  /** Counts a boot-phase failure the node states do not show (a failed TFTP transfer) for the deployment's admission controller. */
  async countBootFailure(deploymentId: string): Promise<void> {
    await COUNT_IF_EXISTS.run(this.redis, [RedisKeys.deployment(deploymentId)], ['bootFailed']);
  }

  /** The deployments the admission tick walks: running or paused (and finished ones not yet swept). */
  async activeDeploymentIds(): Promise<string[]> {
    return this.redis.zrange(RedisKeys.activeDeployments, 0, -1);
  }

  /** Drops a finished deployment from the tick's list. */
  async forgetActive(id: string): Promise<void> {
    await this.redis.zrem(RedisKeys.activeDeployments, id);
  }

  /** Claims deployment `id`'s admission tick for `ms` (SET NX PX): true for the replica that gets it. */
  async claimTick(id: string, ms: number): Promise<boolean> {
    return (await this.redis.set(RedisKeys.admissionTick(id), '1', 'PX', ms, 'NX')) === 'OK';
  }

  /** false when the deployment does not exist. Idempotent. */
  async markReleased(id: string): Promise<boolean> {
    return Number(await RELEASE_DEPLOYMENT.run(this.redis, [RedisKeys.deployment(id)], [new Date().toISOString()])) === 1;
  }

  /**
   * Takes (or renews) the outbox relay's lease for `leaseMs` under `token` and reads the oldest
   * `count` facts of the outbox (see scripts.ts OUTBOX_FACTS, READ_OUTBOX), each with its stream
   * id and fields; `busy` when another relay holds the lease. On a `waitReplicas` connection,
   * throws REDIS_NOT_REPLICATED when the replicas do not have the facts yet.
   */
  async readFacts(count: number, token: string, leaseMs: number): Promise<'busy' | { streamId: string; fields: Record<string, string> }[]> {
    const rows = (await READ_OUTBOX.run(this.redis, [RedisKeys.factOutbox, RedisKeys.factOutboxReads, RedisKeys.factOutboxRelay], [count, token, leaseMs])) as [string, string[]][] | null;
    if (rows === null) return 'busy';
    return rows.map(([streamId, fields]) => ({ streamId, fields: pairs(fields) }));
  }

  /** Gives up the outbox relay's lease if `token` holds it (readFacts). */
  async releaseFacts(token: string): Promise<void> {
    await RELEASE_OUTBOX.runUnreplicated(this.redis, [RedisKeys.factOutboxRelay], [token]);
  }

  /** Removes published facts from the outbox by stream id. */
  async deleteFacts(streamIds: readonly string[]): Promise<void> {
    if (streamIds.length > 0) await this.redis.xdel(RedisKeys.factOutbox, ...streamIds);
  }

  /** Facts in the outbox, not yet published. */
  async pendingFacts(): Promise<number> {
    return this.redis.xlen(RedisKeys.factOutbox);
  }

  /** Log lines after stream id `after` (exclusive), oldest first. Lines whose JSON is unreadable are returned as their raw text. */
  async readLogs(nodeId: string, limit: number, after: string | undefined): Promise<{ id: string; line: unknown }[]> {
    const rows = await this.redis.xrange(RedisKeys.nodeLog(nodeId), after === undefined ? '-' : `(${after}`, '+', 'COUNT', limit);
    return rows.map(([id, fields]) => {
      const json = pairs(fields).json ?? '';
      try {
        return { id, line: JSON.parse(json) as unknown };
      } catch {
        return { id, line: json };
      }
    });
  }

  async ping(): Promise<boolean> {
    return (await this.redis.ping()) === 'PONG';
  }
}

const STATES = new Set<string>(Object.values(NodeState));
const DEPLOYMENT_STATES = new Set<string>(['running', 'paused', 'completed', 'released', 'cancelled'] satisfies DeploymentState[]);
/** A node state by name, for fields read back from Redis. */
export function isNodeState(s: string | undefined): s is NodeState {
  return s !== undefined && STATES.has(s);
}

/** A WITHSCORES reply ([member, score, …]) as positions. Ids are ASCII, so JS string order is Redis's byte order. */
function positions(reply: string[]): Position[] {
  const out: Position[] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) out.push({ member: reply[i]!, score: Number(reply[i + 1]) });
  return out;
}

/** A flat field list (HGETALL, XRANGE entry) → an object. */
export function pairs(fields: string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) o[fields[i]!] = fields[i + 1]!;
  return o;
}

function parseJson(s: string | undefined): unknown {
  if (s === undefined) return undefined;
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return undefined;
  }
}

/** A node hash (HGETALL) → the record; undefined when it is not a node (missing, or without id, MAC or a known state). */
export function parseNode(h: Record<string, string>): StoredNode | undefined {
  if (h.id === undefined || h.mac === undefined || !isNodeState(h.state)) return undefined;
  const labels = parseJson(h.labels);
  const node: StoredNode = {
    id: h.id,
    mac: h.mac,
    hostname: h.hostname ?? h.id,
    labels: typeof labels === 'object' && labels !== null ? (labels as Record<string, string>) : {},
    state: h.state,
    updatedAt: h.updatedAt ?? '',
    createdAt: h.createdAt ?? '',
  };
  if (h.deploymentId) node.deploymentId = h.deploymentId;
  if (h.ip) node.ip = h.ip;
  if (h.reason) node.reason = h.reason;
  if (h.wave !== undefined) node.wave = Number(h.wave);
  if (h.rootDisk) node.rootDisk = h.rootDisk;
  if (h.attempts !== undefined) node.attempts = Number(h.attempts);
  if (h.timeouts !== undefined) node.timeouts = Number(h.timeouts);
  const progress = parseJson(h.progress) as { bytes?: unknown; total?: unknown } | undefined;
  if (progress && typeof progress.bytes === 'number' && typeof progress.total === 'number') node.progress = { bytes: progress.bytes, total: progress.total };
  const stats = parseJson(h.stats);
  if (Value.Check(TransferStats, stats)) node.stats = stats;
  return node;
}

function parseDeployment(h: Record<string, string>): DeploymentRecord | undefined {
  if (h.id === undefined || h.image === undefined) return undefined;
  const state = DEPLOYMENT_STATES.has(h.state ?? '') ? (h.state as DeploymentState) : 'running';
  const ids = parseJson(h.nodes);
  const o = (parseJson(h.options) ?? {}) as Partial<Record<keyof DeploymentOptions, unknown>>;
  const num = (v: unknown, dflt: number) => (typeof v === 'number' && Number.isFinite(v) ? v : dflt);
  const d: DeploymentRecord = {
    id: h.id,
    image: h.image,
    state,
    target: o.target === 'emulated' ? 'emulated' : 'node',
    afterInstall: o.afterInstall === 'kexec' ? 'kexec' : 'reboot',
    lingerSeconds: typeof o.lingerSeconds === 'number' ? o.lingerSeconds : undefined,
    // deployments made before admission existed admitted every node at once
    canary: num(o.canary, 1),
    failureBudget: num(o.failureBudget, Number.MAX_SAFE_INTEGER),
    maxInFlight: num(o.maxInFlight, Number.MAX_SAFE_INTEGER),
    ratePerSecond: num(o.ratePerSecond, 0),
    trustedKeys: Array.isArray(o.trustedKeys) ? o.trustedKeys.filter((k): k is string => typeof k === 'string') : undefined,
    createdAt: h.createdAt ?? '',
    createdAtMs: Number(h.createdAtMs ?? 0),
    nodeIds: Array.isArray(ids) ? ids.filter((x): x is string => typeof x === 'string') : [],
    total: Number(h.total ?? 0),
    installed: Number(h.installed ?? 0),
    failed: Number(h.failed ?? 0),
    controller: parseJson(h.controller) as ControllerState | undefined,
    controllerV: Number(h.controllerV ?? 0),
    waves: Number(h.waves ?? 0),
    bootDone: Number(h.bootDone ?? 0),
    bootFailed: Number(h.bootFailed ?? 0),
    budgetBase: Number(h.budgetBase ?? 0),
  };
  if (h.completedAt) d.completedAt = h.completedAt;
  if (h.reason) d.reason = h.reason;
  return d;
}
