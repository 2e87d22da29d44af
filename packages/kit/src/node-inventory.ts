import type { Redis } from 'ioredis';
import { RedisKeys } from '@swarmboot/contracts';
import { normalizeMac } from './net.js';

/** A registered node as the other services see it: the scheduler's node hash, parsed. */
export interface InventoryNode {
  /** the scheduler's node id */
  id: string;
  /** lower-case, colon-separated; undefined when the hash has none */
  mac?: string;
  /** undefined when the hash has none (or an empty one) */
  hostname?: string;
  /** inventory labels (hash field `labels`, a JSON object of strings); {} when absent or malformed */
  labels: Readonly<Record<string, string>>;
  /** `labels.rack` when it is a non-empty string */
  rack?: string;
}

/** The node hash fields an {@link InventoryNode} is made of, in the order {@link parseNode} takes them. */
const FIELDS = ['mac', 'hostname', 'labels'] as const;

/** Node hashes read per pipeline when listing: bounds the reply held in memory at once. */
const LIST_CHUNK = 1000;

/**
 * Read-only view of the scheduler's node inventory in Redis; the scheduler's store is its only
 * writer. Keys read: `RedisKeys.nodes` (ids), `RedisKeys.node(id)` (hash: mac, hostname,
 * labels JSON), the indexes `nodeByMac`, `nodeByHostname` and `nodeByIp` (scheduler), and the
 * DHCP server's `leaseByIp` (address → chaddr).
 *
 * A node found through an index is returned even when its hash is missing (then with no fields
 * but its id): the scheduler writes index and hash in one script, so this only happens with data
 * written by hand, and the readers this replaced trusted the index alone. Redis errors reject.
 */
export class NodeInventory {
  constructor(private readonly redis: Redis) {}

  /** The node with id `id`; undefined when it has no hash. */
  async byId(id: string): Promise<InventoryNode | undefined> {
    const values = await this.redis.hmget(RedisKeys.node(id), ...FIELDS);
    return values.every((v) => v === null) ? undefined : parseNode(id, values);
  }

  /** The node registered with `mac` (any case, `:` or `-` separated). */
  async byMac(mac: string): Promise<InventoryNode | undefined> {
    return this.read(present(await this.redis.get(RedisKeys.nodeByMac(normalizeMac(mac) ?? mac))));
  }

  /** The node using IPv4 address `ip` (dotted quad): see {@link idsByIp}. */
  async byIp(ip: string): Promise<InventoryNode | undefined> {
    const [id] = await this.idsByIp([ip]);
    return this.read(id);
  }

  /**
   * The node registered under `hostname`, tried as sent, lower-cased, and by its first label
   * (`n7.rack1.lab` → `n7`) in one MGET: DNS names are case-insensitive and senders differ on
   * whether they send the FQDN. The first of these that is registered wins.
   */
  async byHostname(hostname: string): Promise<InventoryNode | undefined> {
    const short = hostname.split('.')[0] ?? hostname;
    const candidates = [...new Set([hostname, hostname.toLowerCase(), short, short.toLowerCase()])].filter((h) => h !== '');
    if (candidates.length === 0) return undefined;
    const ids = await this.redis.mget(...candidates.map((h) => RedisKeys.nodeByHostname(h)));
    return this.read(ids.map(present).find((id) => id !== undefined));
  }

  /** Every node in registration order (`RedisKeys.nodes`), read in pipelines of {@link LIST_CHUNK}. */
  async list(): Promise<InventoryNode[]> {
    const ids = await this.redis.zrange(RedisKeys.nodes, 0, -1);
    const nodes: InventoryNode[] = [];
    for (let i = 0; i < ids.length; i += LIST_CHUNK) {
      const chunk = ids.slice(i, i + LIST_CHUNK);
      const pipe = this.redis.pipeline();
      for (const id of chunk) pipe.hmget(RedisKeys.node(id), ...FIELDS);
      const res = (await pipe.exec()) ?? [];
      // a hash of the wrong type (a per-command error) is read as an empty one, as before
      chunk.forEach((id, k) => nodes.push(parseNode(id, replyOf(res[k]))));
    }
    return nodes;
  }

  /** The `rack` label of the node using `ip`; undefined when unknown or unlabelled. */
  async rackOf(ip: string): Promise<string | undefined> {
    const [rack] = await this.racksOf([ip]);
    return rack;
  }

  /**
   * The `rack` label of the node using each address, in the order of `ips`, in three round trips
   * for all of them together (the tracker resolves every peer of an announce at once).
   */
  async racksOf(ips: readonly string[]): Promise<(string | undefined)[]> {
    const ids = await this.idsByIp(ips);
    const asked = ids.flatMap((id, i) => (id === undefined ? [] : [{ i, id }]));
    const racks = new Array<string | undefined>(ips.length).fill(undefined);
    if (asked.length === 0) return racks;
    const pipe = this.redis.pipeline();
    for (const { id } of asked) pipe.hget(RedisKeys.node(id), 'labels');
    const res = (await pipe.exec()) ?? [];
    asked.forEach(({ i }, k) => {
      const [err, labels] = res[k] ?? [null, null];
      racks[i] = err ? undefined : rackLabel(parseLabels(typeof labels === 'string' ? labels : null));
    });
    return racks;
  }

  /**
   * Node ids of addresses, in the order of `ips`, in two round trips. The address's DHCP lease
   * holder (`leaseByIp` → chaddr → `nodeByMac`) wins: it is who holds the address now. Else the
   * scheduler's own index (`nodeByIp`, written when it saw the lease), which also answers
   * after the lease key expired, or for a holder whose MAC is not registered (the scheduler's
   * TFTP attribution always read it first; the two only disagree while a new lease is not yet
   * recorded by the scheduler).
   */
  private async idsByIp(ips: readonly string[]): Promise<(string | undefined)[]> {
    if (ips.length === 0) return [];
    const both = await this.redis.mget(...ips.map((ip) => RedisKeys.leaseByIp(ip)), ...ips.map((ip) => RedisKeys.nodeByIp(ip)));
    const holders = ips.map((_, i) => present(both[i] ?? null));
    const withHolder = holders.flatMap((c, i) => (c === undefined ? [] : [{ i, mac: normalizeMac(c) ?? c }]));
    const byLease = new Array<string | undefined>(ips.length).fill(undefined);
    if (withHolder.length > 0) {
      const ids = await this.redis.mget(...withHolder.map((h) => RedisKeys.nodeByMac(h.mac)));
      withHolder.forEach(({ i }, k) => (byLease[i] = present(ids[k] ?? null)));
    }
    return ips.map((_, i) => byLease[i] ?? present(both[ips.length + i] ?? null));
  }

  private async read(id: string | undefined): Promise<InventoryNode | undefined> {
    if (id === undefined) return undefined;
    return parseNode(id, await this.redis.hmget(RedisKeys.node(id), ...FIELDS));
  }
}

/** An index value, or undefined for a missing or empty one. */
function present(v: string | null): string | undefined {
  return v === null || v === '' ? undefined : v;
}

function replyOf(r: [Error | null, unknown] | undefined): (string | null)[] {
  if (r === undefined || r[0] !== null || !Array.isArray(r[1])) return [];
  return r[1].map((v) => (typeof v === 'string' ? v : null));
}

/** The one parser of the scheduler's node hash; `values` are {@link FIELDS} in order. */
function parseNode(id: string, values: readonly (string | null | undefined)[]): InventoryNode {
  const [mac, hostname, labelsJson] = values;
  const labels = parseLabels(labelsJson ?? null);
  const node: InventoryNode = { id, labels };
  if (mac) node.mac = mac.toLowerCase();
  if (hostname) node.hostname = hostname;
  const rack = rackLabel(labels);
  if (rack !== undefined) node.rack = rack;
  return node;
}

/** Field `labels`: a JSON object; its string values are the labels. Malformed JSON is no labels. */
function parseLabels(json: string | null): Record<string, string> {
  if (json === null) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
  return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

function rackLabel(labels: Readonly<Record<string, string>>): string | undefined {
  const rack = labels.rack;
  return rack === undefined || rack === '' ? undefined : rack;
}
