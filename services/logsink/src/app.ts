import type { RemoteInfo } from 'node:dgram';
import type { Redis } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import { Events, isSwarmbootError, type LogLine } from '@swarmboot/contracts';
import { NodeInventory, parseHostPort, plainAddress, type AddressAllowlist, type EventBus, type Logger, type UdpPeer } from '@swarmboot/kit';
import type { LogsinkConfig } from './config.js';
import { MAX_SYSLOG_BYTES, parseSyslog, type SyslogMalformedReason } from './protocol/syslog.js';
import type { SyslogFramingReason } from './protocol/syslog-framing.js';
import { decodeNetconsole, extendedLine, type NetconsoleMalformedReason } from './protocol/netconsole.js';
import { NetconsoleReassembler, SequenceGaps } from './domain/netconsole-reassembly.js';
import { NodeMapper, UNKNOWN_NODE, type MappingResult, type NodeDirectory, type NodeMapping } from './domain/node-mapper.js';
import { classifyLine, loadFailureRules, type FailureRule } from './domain/failure-rules.js';
import { InFlight } from './domain/in-flight.js';
import { RateLimiter } from './domain/rate-limit.js';
import { RedisLogStore, type LogStore, type SerializedLine } from './adapters/redis-log-store.js';
import { listenUdp, type UdpListener } from './adapters/udp-listener.js';
import { RedisClassificationStore, type ClassificationStore } from './adapters/redis-classifications.js';
import { listenTcpSyslog, type TcpListener } from './adapters/tcp-listener.js';

/** A line as any transport decoded it (syslog over UDP or TCP, netconsole). */
export interface ReceivedLine {
  format: LogLine['format'];
  /** 0–23 */
  facility: number;
  /** 0–7 */
  severity: number;
  /** the message's own time, ISO 8601 */
  timestamp?: string;
  /** the HOSTNAME the message claims */
  hostname?: string;
  app?: string;
  message: string;
  /** netconsole extended format: printk's sequence number */
  seq?: number;
  /** netconsole extended format: the kernel's timestamp, µs since boot */
  bootTimeUs?: number;
  /** netconsole extended format: the record's dictionary */
  fields?: Record<string, string>;
}

/**
 * Why a line (or a stream) was dropped, the `reason` label of `swarmboot_logsink_dropped_total`:
 * a syslog parser reason; an RFC 6587 framing reason (`bad_framing`, `oversized`: the connection
 * is closed) or `truncated` (it closed mid-frame); `connection_refused` (a TCP connection over
 * the limit); a netconsole reason (`bad_fragment`: an ncfrag out of range, a duplicate or a
 * total that changed; `fragment_expired`: a message still incomplete after the timeout;
 * `fragment_evicted`: pushed out by newer messages, the memory bound); `overload` (too many lines
 * waiting for Redis); `not_allowed` (a datagram or connection from outside
 * SWARMBOOT_LOGSINK_ALLOWED_SUBNETS); or `internal` (a parser failed in a way it should not: a bug, logged at error).
 */
export type DropReason =
  | SyslogMalformedReason
  | SyslogFramingReason
  | NetconsoleMalformedReason
  | 'connection_refused'
  | 'fragment_expired'
  | 'fragment_evicted'
  | 'overload'
  | 'not_allowed'
  | 'internal';

/** The bound addresses of the three listeners. */
export interface LogsinkAddresses {
  syslogUdp: UdpPeer;
  syslogTcp: UdpPeer;
  netconsole: UdpPeer;
}

export interface LogsinkDeps {
  log: Logger;
  bus: EventBus;
  redis: Redis;
  /** where the counters are registered (the ops endpoint's registry) */
  registry: Registry;
  config: Pick<
    LogsinkConfig,
    'SWARMBOOT_SYSLOG_LISTEN' | 'SWARMBOOT_SYSLOG_TCP_LISTEN' | 'SWARMBOOT_SYSLOG_TCP_MAX_CONNECTIONS' | 'SWARMBOOT_SYSLOG_TCP_IDLE_SECONDS' | 'SWARMBOOT_NETCONSOLE_LISTEN' | 'SWARMBOOT_LOG_MAXLEN'
  >;
  /** how long a sender → node mapping is reused, and a node's rule matches skip the Redis claim after one (ms); default 5000 */
  mappingTtlMs?: number;
  /** lines being stored at once before new ones are dropped with reason `overload`; default 10000 */
  maxInFlight?: number;
  /** overrides of the Redis-backed directory and store (other backends); default Redis */
  directory?: NodeDirectory;
  store?: LogStore;
  classifications?: ClassificationStore;
  /** the compiled failure rules (`loadFailureRules`); default the shipped rules/failure-rules.yaml, [] classifies nothing */
  failureRules?: readonly FailureRule[];
  /** netconsole fragments: an incomplete message is given up after this long (ms); default 2000 */
  fragmentTimeoutMs?: number;
  /** the provisioning networks whose lines are taken (SWARMBOOT_LOGSINK_ALLOWED_SUBNETS); default: anyone */
  allowed?: AddressAllowlist;
  /** SO_RCVBUF asked for each UDP socket (bytes; SWARMBOOT_LOGSINK_UDP_RECV_BUFFER_BYTES); default 32 MiB, capped by net.core.rmem_max */
  udpRecvBufferBytes?: number;
  /** the fatal path: a listening socket failed after binding (runService's `onFatal`); without it the error is only logged */
  onFatal?: (err: Error) => void;
}

export interface Logsink {
  /**
   * The transport-independent core: maps the sender to a node, stores the line in the node's
   * stream and publishes it on `Events.logLines` (core NATS, with the other lines of its node
   * stored in the same event-loop turn; not awaited); a line of a known node
   * that matches a failure rule classifies the node's install attempt (`Events.nodeFailureClassified`,
   * once per attempt and kind, not awaited). Never rejects;
   * resolves with the stored LogLine, or undefined when it was dropped or could not be stored.
   */
  handleLine(line: ReceivedLine, from: UdpPeer): Promise<LogLine | undefined>;
  /** One syslog datagram or RFC 6587 frame (RFC 5424 or 3164): parse, then `handleLine`; malformed ones are counted and dropped. Never rejects. */
  handleSyslogDatagram(datagram: Buffer, from: UdpPeer): Promise<LogLine | undefined>;
  /**
   * One netconsole datagram: plain text (each line), a whole extended record, or a fragment (kept
   * until its message is whole), then `handleLine`; malformed ones are counted and dropped.
   * Resolves with the lines stored (none for a fragment that did not complete its message). Never rejects.
   */
  handleNetconsoleDatagram(datagram: Buffer, from: UdpPeer): Promise<LogLine[]>;
  /**
   * Binds syslog UDP (SWARMBOOT_SYSLOG_LISTEN), syslog TCP (SWARMBOOT_SYSLOG_TCP_LISTEN) and
   * netconsole UDP (SWARMBOOT_NETCONSOLE_LISTEN); resolves with the bound addresses, rejects with
   * the first bind error (after closing what was bound).
   */
  listen(): Promise<LogsinkAddresses>;
  /** Closes the sockets and waits (at most 5 s) for lines still being stored. */
  close(): Promise<void>;
}

const FORMATS: LogLine['format'][] = ['rfc5424', 'rfc3164', 'netconsole'];
const MAPPINGS: MappingResult[] = ['lease', 'hostname', 'unknown'];
const DROP_REASONS: DropReason[] = [
  'empty',
  'oversized',
  'no_pri',
  'bad_pri',
  'truncated',
  'bad_header',
  'bad_structured_data',
  'bad_framing',
  'connection_refused',
  'bad_fragment',
  'fragment_expired',
  'fragment_evicted',
  'overload',
  'not_allowed',
  'internal',
];

/**
 * A counter with one label whose per-value counts are plain numbers, added to it when it is read
 * (collect): a labelled prom-client inc() hashes its labels, and twice per line was 1.0–1.4 % of
 * the sink's profile samples at 40 000 lines/s (docs/benchmarks.md "Log sink", issue 14).
 * Returns the counts to increment, one per value of `values`.
 */
function tallied<V extends string>(registry: Registry, { name, help, label }: { name: string; help: string; label: string }, values: readonly V[]): Record<V, number> {
  const counts = Object.fromEntries(values.map((v) => [v, 0])) as Record<V, number>;
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      for (const v of values) {
        this.inc({ [label]: v }, counts[v]);
        counts[v] = 0;
      }
    },
  });
  return counts;
}

/** Builds the log sink: syslog over UDP and TCP, netconsole → node (lease, hostname, `unknown`) → Redis stream + NATS. */
export function buildLogsink(deps: LogsinkDeps): Logsink {
  const log = deps.log.child({ component: 'logsink' });
  const maxInFlight = deps.maxInFlight ?? 10_000;

  const lineCounts = {
    format: tallied(deps.registry, { name: 'swarmboot_logsink_lines_total', help: 'log lines received, by wire format', label: 'format' }, FORMATS),
    mapping: tallied(deps.registry, { name: 'swarmboot_logsink_lines_mapped_total', help: 'log lines by how their sender was mapped to a node (lease, hostname, unknown)', label: 'result' }, MAPPINGS),
  };
  const droppedTotal = new Counter({ name: 'swarmboot_logsink_dropped_total', help: 'datagrams, frames, fragmented messages and connections dropped, by reason', labelNames: ['reason'] as const, registers: [deps.registry] });
  const storeFailures = new Counter({ name: 'swarmboot_logsink_store_failures_total', help: 'log lines that could not be written to Redis', registers: [deps.registry] });
  const publishFailures = new Counter({ name: 'swarmboot_logsink_publish_failures_total', help: 'log lines that could not be published on NATS', registers: [deps.registry] });
  const seqGapsTotal = new Counter({
    name: 'swarmboot_logsink_netconsole_seq_gaps_total',
    help: 'netconsole extended records missing from a sender\'s sequence numbers (lost, or below the console loglevel)',
    registers: [deps.registry],
  });
  const ruleMatches = new Counter({
    name: 'swarmboot_logsink_rule_matches_total',
    help: 'log lines of known nodes that matched a failure rule, by rule id',
    labelNames: ['rule'] as const,
    registers: [deps.registry],
  });
  const classified = new Counter({
    name: 'swarmboot_logsink_failures_classified_total',
    help: 'install attempts classified (Events.nodeFailureClassified published), by reason code',
    labelNames: ['code'] as const,
    registers: [deps.registry],
  });
  const classifyFailures = new Counter({
    name: 'swarmboot_logsink_classify_failures_total',
    help: 'classifications lost: the Redis claim or the JetStream publish failed',
    registers: [deps.registry],
  });
  const reassembler = new NetconsoleReassembler({ timeoutMs: deps.fragmentTimeoutMs ?? 2000 });
  const seqGaps = new SequenceGaps();
  new Gauge({
    name: 'swarmboot_logsink_netconsole_reassembly_bytes',
    help: 'bytes held for netconsole messages waiting for fragments (bounded at 4 MiB)',
    registers: [deps.registry],
    collect() {
      this.set(reassembler.bytes);
    },
  });
  for (const reason of DROP_REASONS) droppedTotal.inc({ reason }, 0);
  const rules = deps.failureRules ?? loadFailureRules();
  for (const rule of rules) ruleMatches.inc({ rule: rule.id }, 0);

  // One limiter per kind of trouble, so a garbage storm cannot hide Redis failures or the reverse.
  const malformedWarn = new RateLimiter();
  const storeWarn = new RateLimiter();
  const publishWarn = new RateLimiter();
  const lookupWarn = new RateLimiter();
  const overloadWarn = new RateLimiter();
  const gapWarn = new RateLimiter();
  const allowWarn = new RateLimiter();
  const classifyWarn = new RateLimiter();

  /** Logs through `limiter`: a few lines per window, the ones held back counted in the next line's `suppressed`. */
  const logLimited = (limiter: RateLimiter, level: 'warn' | 'error', bindings: Record<string, unknown>, msg: string): void => {
    const gate = limiter.take();
    if (gate.allowed) log[level]({ ...bindings, suppressed: gate.suppressedBefore }, msg);
  };

  const mapper = new NodeMapper(deps.directory ?? new NodeInventory(deps.redis), {
    ttlMs: deps.mappingTtlMs ?? 5000,
    onLookupError: (err) => {
      logLimited(lookupWarn, 'warn', { err }, 'node lookup failed; line filed under unknown');
    },
  });
  const store = deps.store ?? new RedisLogStore(deps.redis, deps.config.SWARMBOOT_LOG_MAXLEN);
  const classifications = deps.classifications ?? new RedisClassificationStore(deps.redis);
  // node:kind → until when a claim is known to be made: a storm of matching lines (an I/O error
  // per sector) costs one Redis claim per node and TTL, not one per line.
  const claimedRecently = new Map<string, number>();
  const claimTtlMs = deps.mappingTtlMs ?? 5000;

  const inFlight = new InFlight();
  let listeners: { syslogUdp: UdpListener; syslogTcp: TcpListener; netconsole: UdpListener } | undefined;
  let expiry: NodeJS.Timeout | undefined;

  const drop = (reason: DropReason, from: UdpPeer, bytes: number, limiter: RateLimiter, head?: Buffer): void => {
    droppedTotal.inc({ reason });
    // Only our own fields: the payload is shown as hex of its first bytes, never spread into bindings.
    logLimited(limiter, 'warn', { reason, source: `${from.address}:${from.port}`, bytes, ...(head ? { head: head.toString('hex') } : {}) }, DROP_MESSAGES[reason] ?? 'dropped malformed log input');
  };

  /**
   * The core every transport feeds: takes the line (or drops it as `overload`), maps its sender
   * and queues it for the turn's batch; `done` (optional) is called once with the stored line, or
   * undefined when it was dropped or could not be stored. Synchronous while the sender's mapping
   * is cached (every line but a sender's first few): no promise chain per line (the "sync"
   * step in docs/benchmarks.md "Log sink", issue 14).
   */
  function accept(received: ReceivedLine, from: UdpPeer, done?: Done): void {
    if (inFlight.count >= maxInFlight) {
      drop('overload', from, received.message.length, overloadWarn);
      done?.(undefined);
      return;
    }
    inFlight.begin();
    lineCounts.format[received.format]++;
    // leases are keyed by the v4 address, also when a dual-stack socket saw `::ffff:10.0.0.1`
    const ip = plainAddress(from.address);
    const mapping = mapper.mapNow(ip, received.hostname);
    if (mapping !== undefined) {
      admit(received, from, ip, mapping, done);
      return;
    }
    mapper.map(ip, received.hostname).then(
      (m) => admit(received, from, ip, m, done),
      (err: unknown) => {
        // map() files lookup failures under `unknown` itself; anything else is a bug
        logLimited(lookupWarn, 'error', { err }, 'node mapping failed; line not stored');
        inFlight.end();
        done?.(undefined);
      },
    );
  }

  /** A mapped line: built, classified, queued for the turn's batch (flushBatch settles it). */
  function admit(received: ReceivedLine, from: UdpPeer, ip: string, mapping: NodeMapping, done: Done | undefined): void {
    lineCounts.mapping[mapping.by]++;
    const line: LogLine = {
      nodeId: mapping.nodeId,
      received: isoNow(),
      source: ip.includes(':') ? `[${ip}]:${from.port}` : `${ip}:${from.port}`,
      format: received.format,
      facility: received.facility,
      severity: received.severity,
      message: received.message,
    };
    // optional keys only when set (as the wire had them), without a temporary object each
    if (received.timestamp !== undefined) line.timestamp = received.timestamp;
    if (received.hostname !== undefined) line.hostname = received.hostname;
    if (received.app !== undefined) line.app = received.app;
    if (received.seq !== undefined) line.seq = received.seq;
    if (received.bootTimeUs !== undefined) line.bootTimeUs = received.bootTimeUs;
    if (received.fields !== undefined) line.fields = received.fields;
    if (rules.length > 0 && mapping.nodeId !== UNKNOWN_NODE) {
      const rule = classifyLine(rules, line);
      if (rule !== undefined) classify(rule, line);
    }
    if (batch.length === 0) setImmediate(flushBatch);
    batch.push({ line, done });
  }

  function handleLine(received: ReceivedLine, from: UdpPeer): Promise<LogLine | undefined> {
    return new Promise((resolve) => accept(received, from, resolve));
  }

  // Lines mapped in one event-loop turn are published and stored together (flushBatch): one NATS
  // message per node and one Redis script call per turn instead of one socket write each per
  // line, which was the sink's largest cost (docs/benchmarks.md "Log sink", 2026-12-02 profiles).
  let batch: { line: LogLine; done: Done | undefined }[] = [];

  /**
   * Publishes (core NATS, not awaited) and stores the batch, in arrival order; then ends each
   * line: counted and logged when its XADD failed, `done` called. Never throws. Each line is
   * serialised once: the same JSON goes into its XADD and into its node's `Events.logLines`
   * message (one per node of the turn).
   */
  function flushBatch(): void {
    const taken = batch;
    batch = [];
    const entries: SerializedLine[] = taken.map(({ line }) => ({ nodeId: line.nodeId, json: JSON.stringify(line) }));
    // Live feed first and not awaited: a slow NATS must not hold the Redis write back.
    const byNode = new Map<string, number[]>();
    entries.forEach(({ nodeId }, i) => {
      const at = byNode.get(nodeId);
      if (at === undefined) byNode.set(nodeId, [i]);
      else at.push(i);
    });
    for (const [nodeId, at] of byNode) {
      const lines = at.map((i) => (taken[i] as (typeof taken)[number]).line);
      const json = `{"nodeId":${JSON.stringify(nodeId)},"lines":[${at.map((i) => (entries[i] as SerializedLine).json).join(',')}]}`;
      deps.bus.publishSerialized(Events.logLines, { nodeId, lines }, json, nodeId).catch((err: unknown) => {
        publishFailures.inc(lines.length);
        logLimited(publishWarn, 'warn', { err, nodeId, lines: lines.length }, 'log lines not published');
      });
    }
    const settle = (t: (typeof taken)[number], outcome: string | Error | undefined): void => {
      inFlight.end();
      if (typeof outcome === 'string') {
        t.done?.(t.line);
        return;
      }
      storeFailures.inc();
      logLimited(storeWarn, 'warn', { err: outcome ?? new Error('no outcome for the line'), nodeId: t.line.nodeId }, 'log line not stored');
      t.done?.(undefined);
    };
    store.appendMany(entries).then(
      (outcomes) => taken.forEach((t, i) => settle(t, outcomes[i])),
      (err: unknown) => {
        const error = err instanceof Error ? err : new Error(String(err));
        for (const t of taken) settle(t, error);
      },
    );
  }

  /**
   * A line of a known node matched `rule`: claims its attempt's classification (failure or
   * warning; once across replicas) and publishes `Events.nodeFailureClassified`. Not awaited by
   * the line; counted in `inFlight` so close() waits for it. Never rejects.
   */
  function classify(rule: FailureRule, line: LogLine): void {
    ruleMatches.inc({ rule: rule.id });
    const kind = rule.severity === 'warning' ? 'warning' : 'failure';
    const memo = `${line.nodeId}:${kind}`;
    const now = Date.now();
    if ((claimedRecently.get(memo) ?? 0) > now) return;
    if (claimedRecently.size >= 10_000) claimedRecently.clear();
    claimedRecently.set(memo, now + claimTtlMs);
    inFlight.begin();
    classifications
      .claim(line.nodeId, kind, rule.id)
      .then(async (claimed) => {
        if (claimed === undefined) return;
        await deps.bus.publish(
          Events.nodeFailureClassified,
          {
            nodeId: line.nodeId,
            ...claimed,
            ruleId: rule.id,
            code: rule.code,
            severity: rule.severity,
            description: rule.description,
            line: line.message,
            format: line.format,
            received: line.received,
          },
          line.nodeId,
        );
        classified.inc({ code: rule.code });
        log.info({ nodeId: line.nodeId, rule: rule.id, code: rule.code, attempt: claimed.attempt }, 'install attempt classified from its log');
      })
      .catch((err: unknown) => {
        // Forget the memo so the next matching line tries again.
        claimedRecently.delete(memo);
        classifyFailures.inc();
        logLimited(classifyWarn, 'warn', { err, nodeId: line.nodeId, rule: rule.id }, 'failure classification lost');
      })
      .finally(() => inFlight.end());
  }

  /** One syslog datagram or frame: parsed and `accept`ed, or counted and dropped (`done(undefined)`). */
  function acceptSyslog(datagram: Buffer, from: UdpPeer, done?: Done): void {
    let parsed;
    try {
      parsed = parseSyslog(datagram);
    } catch (err) {
      parserFailed(err, 'SYSLOG_MALFORMED', datagram, from);
      done?.(undefined);
      return;
    }
    accept(parsed, from, done);
  }

  function handleSyslogDatagram(datagram: Buffer, from: UdpPeer): Promise<LogLine | undefined> {
    return new Promise((resolve) => acceptSyslog(datagram, from, resolve));
  }

  /** A parser threw: its own typed error is a counted drop, anything else a bug (`internal`, logged at error). */
  function parserFailed(err: unknown, code: 'SYSLOG_MALFORMED' | 'NETCONSOLE_MALFORMED', datagram: Buffer, from: UdpPeer): void {
    if (isSwarmbootError(err, code)) {
      drop(err.context['reason'] as DropReason, from, datagram.length, malformedWarn, datagram.subarray(0, 32));
      return;
    }
    droppedTotal.inc({ reason: 'internal' });
    logLimited(malformedWarn, 'error', { err, bytes: datagram.length, head: datagram.subarray(0, 32).toString('hex') }, 'log parser failed unexpectedly');
  }

  /** One netconsole datagram → the lines it completes (none for a fragment that did not complete its message, or a malformed one: counted). */
  function netconsoleLines(datagram: Buffer, from: UdpPeer): ReceivedLine[] {
    let decoded;
    try {
      decoded = decodeNetconsole(datagram);
    } catch (err) {
      parserFailed(err, 'NETCONSOLE_MALFORMED', datagram, from);
      return [];
    }
    if (decoded.kind === 'plain') return decoded.lines;
    const { header, body } = decoded;
    const sender = `${from.address}:${from.port}`;
    const gap = seqGaps.observe(sender, header.seq);
    if (gap > 0) {
      seqGapsTotal.inc(gap);
      logLimited(gapWarn, 'warn', { source: sender, seq: header.seq, missing: gap }, 'netconsole records missing');
    }
    let whole = body;
    if (header.fragment) {
      const { outcome, evicted } = reassembler.add(sender, header.seq, header.fragment, body, Date.now());
      if (evicted > 0) droppedTotal.inc({ reason: 'fragment_evicted' }, evicted);
      if (outcome.kind === 'refused') drop('bad_fragment', from, datagram.length, malformedWarn, datagram.subarray(0, 32));
      if (outcome.kind !== 'complete') return [];
      whole = outcome.body;
    }
    return [extendedLine(header, whole)];
  }

  async function handleNetconsoleDatagram(datagram: Buffer, from: UdpPeer): Promise<LogLine[]> {
    return stored(await Promise.all(netconsoleLines(datagram, from).map((line) => handleLine(line, from))));
  }

  /** Whether the listeners take input from `from`: inside the allowed subnets, or no list configured. */
  const admits = (from: UdpPeer): boolean => {
    if (deps.allowed === undefined || deps.allowed.allows(from.address)) return true;
    drop('not_allowed', from, 0, allowWarn);
    return false;
  };

  async function bind(): Promise<NonNullable<typeof listeners>> {
    const fatal = (what: string) => (err: Error) => {
      log.error({ err }, `${what} socket failed`);
      deps.onFatal?.(err);
    };
    const udp = parseHostPort(deps.config.SWARMBOOT_SYSLOG_LISTEN, 'SWARMBOOT_SYSLOG_LISTEN');
    const tcp = parseHostPort(deps.config.SWARMBOOT_SYSLOG_TCP_LISTEN, 'SWARMBOOT_SYSLOG_TCP_LISTEN');
    const nc = parseHostPort(deps.config.SWARMBOOT_NETCONSOLE_LISTEN, 'SWARMBOOT_NETCONSOLE_LISTEN');
    const opened: { close(): Promise<void> }[] = [];
    const recvBuffer = deps.udpRecvBufferBytes ?? 32 * 1024 * 1024;
    try {
      const syslogUdp = await listenUdp(udp.host, udp.port, (msg: Buffer, rinfo: RemoteInfo) => {
          if (admits(rinfo)) acceptSyslog(msg, rinfo);
        }, fatal('syslog UDP'), recvBuffer);
      opened.push(syslogUdp);
      const syslogTcp = await listenTcpSyslog({
        host: tcp.host,
        port: tcp.port,
        maxFrameBytes: MAX_SYSLOG_BYTES,
        maxConnections: deps.config.SWARMBOOT_SYSLOG_TCP_MAX_CONNECTIONS,
        idleTimeoutMs: deps.config.SWARMBOOT_SYSLOG_TCP_IDLE_SECONDS * 1000,
        onFrame: (frame, from, done) => acceptSyslog(frame, from, done),
        onStreamDrop: (reason, from, bytes) => drop(reason, from, bytes, malformedWarn),
        onRefused: (from) => drop('connection_refused', from, 0, overloadWarn),
        admits,
        onError: fatal('syslog TCP'),
      });
      opened.push(syslogTcp);
      const netconsole = await listenUdp(nc.host, nc.port, (msg: Buffer, rinfo: RemoteInfo) => {
          if (!admits(rinfo)) return;
          for (const line of netconsoleLines(msg, rinfo)) accept(line, rinfo);
        }, fatal('netconsole'), recvBuffer);
      return { syslogUdp, syslogTcp, netconsole };
    } catch (err) {
      await Promise.all(opened.map((l) => l.close()));
      throw err;
    }
  }

  return {
    handleLine,
    handleSyslogDatagram,
    handleNetconsoleDatagram,
    async listen() {
      listeners ??= await bind();
      // Incomplete fragmented messages are given up a few times per timeout, not per datagram.
      expiry ??= setInterval(() => {
        const expired = reassembler.expire(Date.now());
        if (expired > 0) droppedTotal.inc({ reason: 'fragment_expired' }, expired);
      }, Math.max(100, (deps.fragmentTimeoutMs ?? 2000) / 4)).unref();
      const addresses = { syslogUdp: listeners.syslogUdp.address, syslogTcp: listeners.syslogTcp.address, netconsole: listeners.netconsole.address };
      log.info(
        {
          syslogUdp: addresses.syslogUdp.port,
          syslogTcp: addresses.syslogTcp.port,
          netconsole: addresses.netconsole.port,
          // what the kernel granted (Linux reports twice the bytes granted, capped by net.core.rmem_max)
          udpRecvBufferBytes: listeners.syslogUdp.recvBufferBytes,
        },
        'listening: syslog UDP (RFC 5426) and TCP (RFC 6587), netconsole UDP (plain and extended)',
      );
      return addresses;
    },
    async close() {
      const l = listeners;
      listeners = undefined;
      clearInterval(expiry);
      expiry = undefined;
      await Promise.all([l?.syslogUdp.close(), l?.syslogTcp.close(), l?.netconsole.close()]);
      await inFlight.drained(5000);
    },
  };
}

/** Called once a line is stored (with it) or dropped or not stored (undefined). */
type Done = (line: LogLine | undefined) => void;

let isoMs = -1;
let isoText = '';
/** `new Date().toISOString()`, made once per millisecond rather than once per line (a Date and a string each). */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

/** Lines that were stored (a line that could not be is `undefined`). */
function stored(lines: (LogLine | undefined)[]): LogLine[] {
  return lines.filter((l): l is LogLine => l !== undefined);
}

/** The warn message of a drop, by reason (the rest are malformed input). */
const DROP_MESSAGES: Partial<Record<DropReason, string>> = {
  overload: 'dropped log line: too many lines waiting for Redis',
  connection_refused: 'refused a syslog TCP connection: too many open',
  bad_framing: 'closed a syslog TCP connection: RFC 6587 framing broken',
  truncated: 'dropped malformed or cut-off log input',
  bad_fragment: 'dropped netconsole fragment',
  not_allowed: 'dropped log input from outside the allowed subnets',
};
