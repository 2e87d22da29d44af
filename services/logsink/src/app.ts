import type { RemoteInfo } from 'node:dgram';
import type { Redis } from 'ioredis';
import { Counter, type Registry } from 'prom-client';
import { Events, isSwarmbootError, type LogLine } from '@swarmboot/contracts';
import { NodeInventory, parseHostPort, plainAddress, type EventBus, type Logger, type UdpPeer } from '@swarmboot/kit';
import type { LogsinkConfig } from './config.js';
import { parseSyslog, type SyslogMalformedReason } from './protocol/syslog.js';
import { NodeMapper, type MappingResult, type NodeDirectory } from './domain/node-mapper.js';
import { InFlight } from './domain/in-flight.js';
import { RateLimiter } from './domain/rate-limit.js';
import { RedisLogStore, type LogStore } from './adapters/redis-log-store.js';
import { listenUdp, type UdpListener } from './adapters/udp-listener.js';

/** A line as any transport decoded it (syslog UDP today; RFC 6587 TCP and netconsole later). */
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
}

/**
 * Why a line was dropped: a parser reason, `overload` (too many lines waiting for Redis), or
 * `internal` (the parser failed in a way it should not: a bug, logged at error).
 */
export type DropReason = SyslogMalformedReason | 'overload' | 'internal';

export interface LogsinkDeps {
  log: Logger;
  bus: EventBus;
  redis: Redis;
  /** where the counters are registered (the ops endpoint's registry) */
  registry: Registry;
  config: Pick<LogsinkConfig, 'SWARMBOOT_SYSLOG_LISTEN' | 'SWARMBOOT_LOG_MAXLEN'>;
  /** how long a sender → node mapping is reused (ms); default 5000 */
  mappingTtlMs?: number;
  /** lines being stored at once before new ones are dropped with reason `overload`; default 10000 */
  maxInFlight?: number;
  /** overrides of the Redis-backed directory and store (other backends); default Redis */
  directory?: NodeDirectory;
  store?: LogStore;
  /** the fatal path: the syslog socket failed after binding (runService's `onFatal`); without it the error is only logged */
  onFatal?: (err: Error) => void;
}

export interface Logsink {
  /**
   * The transport-independent core: maps the sender to a node, stores the line in the node's
   * stream and publishes it on `Events.logLine` (core NATS, not awaited). Never rejects;
   * resolves with the stored LogLine, or undefined when it was dropped or could not be stored.
   */
  handleLine(line: ReceivedLine, from: UdpPeer): Promise<LogLine | undefined>;
  /** One syslog datagram (RFC 5424 or 3164): parse, then `handleLine`; malformed ones are counted and dropped. Never rejects. */
  handleSyslogDatagram(datagram: Buffer, from: UdpPeer): Promise<LogLine | undefined>;
  /** Binds the syslog UDP socket on SWARMBOOT_SYSLOG_LISTEN; resolves with the bound address. */
  listen(): Promise<UdpPeer>;
  /** Closes the socket and waits (at most 5 s) for lines still being stored. */
  close(): Promise<void>;
}

const FORMATS: LogLine['format'][] = ['rfc5424', 'rfc3164', 'netconsole'];
const MAPPINGS: MappingResult[] = ['lease', 'hostname', 'unknown'];
const DROP_REASONS: DropReason[] = ['empty', 'oversized', 'no_pri', 'bad_pri', 'truncated', 'bad_header', 'bad_structured_data', 'overload', 'internal'];

/** Builds the log sink: syslog over UDP → node (lease, hostname, `unknown`) → Redis stream + NATS. */
export function buildLogsink(deps: LogsinkDeps): Logsink {
  const log = deps.log.child({ component: 'logsink' });
  const maxInFlight = deps.maxInFlight ?? 10_000;

  const linesTotal = new Counter({ name: 'swarmboot_logsink_lines_total', help: 'log lines received, by wire format', labelNames: ['format'] as const, registers: [deps.registry] });
  const mappedTotal = new Counter({ name: 'swarmboot_logsink_lines_mapped_total', help: 'log lines by how their sender was mapped to a node (lease, hostname, unknown)', labelNames: ['result'] as const, registers: [deps.registry] });
  const droppedTotal = new Counter({ name: 'swarmboot_logsink_dropped_total', help: 'datagrams dropped, by reason', labelNames: ['reason'] as const, registers: [deps.registry] });
  const storeFailures = new Counter({ name: 'swarmboot_logsink_store_failures_total', help: 'log lines that could not be written to Redis', registers: [deps.registry] });
  const publishFailures = new Counter({ name: 'swarmboot_logsink_publish_failures_total', help: 'log lines that could not be published on NATS', registers: [deps.registry] });
  for (const format of FORMATS) linesTotal.inc({ format }, 0);
  for (const result of MAPPINGS) mappedTotal.inc({ result }, 0);
  for (const reason of DROP_REASONS) droppedTotal.inc({ reason }, 0);

  // One limiter per kind of trouble, so a garbage storm cannot hide Redis failures or the reverse.
  const malformedWarn = new RateLimiter();
  const storeWarn = new RateLimiter();
  const publishWarn = new RateLimiter();
  const lookupWarn = new RateLimiter();
  const overloadWarn = new RateLimiter();

  const mapper = new NodeMapper(deps.directory ?? new NodeInventory(deps.redis), {
    ttlMs: deps.mappingTtlMs ?? 5000,
    onLookupError: (err) => {
      const gate = lookupWarn.take();
      if (gate.allowed) log.warn({ err, suppressed: gate.suppressedBefore }, 'node lookup failed; line filed under unknown');
    },
  });
  const store = deps.store ?? new RedisLogStore(deps.redis, deps.config.SWARMBOOT_LOG_MAXLEN);

  const inFlight = new InFlight();
  let listener: UdpListener | undefined;

  const drop = (reason: DropReason, from: UdpPeer, bytes: number, limiter: RateLimiter, head?: Buffer): void => {
    droppedTotal.inc({ reason });
    const gate = limiter.take();
    if (!gate.allowed) return;
    // Only our own fields: the payload is shown as hex of its first bytes, never spread into bindings.
    log.warn(
      { reason, source: `${from.address}:${from.port}`, bytes, ...(head ? { head: head.toString('hex') } : {}), suppressed: gate.suppressedBefore },
      reason === 'overload' ? 'dropped log line: too many lines waiting for Redis' : 'dropped malformed syslog datagram',
    );
  };

  async function handleLine(received: ReceivedLine, from: UdpPeer): Promise<LogLine | undefined> {
    if (inFlight.count >= maxInFlight) {
      drop('overload', from, received.message.length, overloadWarn);
      return undefined;
    }
    inFlight.begin();
    try {
      linesTotal.inc({ format: received.format });
      // leases are keyed by the v4 address, also when a dual-stack socket saw `::ffff:10.0.0.1`
      const ip = plainAddress(from.address);
      const mapping = await mapper.map(ip, received.hostname);
      mappedTotal.inc({ result: mapping.by });
      const line: LogLine = {
        nodeId: mapping.nodeId,
        received: new Date().toISOString(),
        source: ip.includes(':') ? `[${ip}]:${from.port}` : `${ip}:${from.port}`,
        format: received.format,
        facility: received.facility,
        severity: received.severity,
        message: received.message,
        ...(received.timestamp === undefined ? {} : { timestamp: received.timestamp }),
        ...(received.hostname === undefined ? {} : { hostname: received.hostname }),
        ...(received.app === undefined ? {} : { app: received.app }),
      };
      // Live feed first and not awaited: a slow NATS must not hold the Redis write back.
      deps.bus.publish(Events.logLine, line, mapping.nodeId).catch((err: unknown) => {
        publishFailures.inc();
        const gate = publishWarn.take();
        if (gate.allowed) log.warn({ err, nodeId: mapping.nodeId, suppressed: gate.suppressedBefore }, 'log line not published');
      });
      try {
        await store.append(line);
        return line;
      } catch (err) {
        storeFailures.inc();
        const gate = storeWarn.take();
        if (gate.allowed) log.warn({ err, nodeId: mapping.nodeId, suppressed: gate.suppressedBefore }, 'log line not stored');
        return undefined;
      }
    } finally {
      inFlight.end();
    }
  }

  async function handleSyslogDatagram(datagram: Buffer, from: UdpPeer): Promise<LogLine | undefined> {
    let parsed;
    try {
      parsed = parseSyslog(datagram);
    } catch (err) {
      if (isSwarmbootError(err, 'SYSLOG_MALFORMED')) {
        drop(err.context['reason'] as SyslogMalformedReason, from, datagram.length, malformedWarn, datagram.subarray(0, 32));
      } else {
        droppedTotal.inc({ reason: 'internal' });
        const gate = malformedWarn.take();
        if (gate.allowed) log.error({ err, bytes: datagram.length, head: datagram.subarray(0, 32).toString('hex') }, 'syslog parser failed unexpectedly');
      }
      return undefined;
    }
    return handleLine(parsed, from);
  }

  return {
    handleLine,
    handleSyslogDatagram,
    async listen() {
      if (listener) return listener.address;
      const { host, port } = parseHostPort(deps.config.SWARMBOOT_SYSLOG_LISTEN, 'SWARMBOOT_SYSLOG_LISTEN');
      listener = await listenUdp(
        host,
        port,
        (msg: Buffer, rinfo: RemoteInfo) => void handleSyslogDatagram(msg, rinfo),
        (err) => {
          log.error({ err }, 'syslog socket failed');
          deps.onFatal?.(err);
        },
      );
      log.info({ address: listener.address.address, port: listener.address.port }, 'syslog listening (UDP, RFC 5424/3164)');
      return listener.address;
    },
    async close() {
      const l = listener;
      listener = undefined;
      await l?.close();
      await inFlight.drained(5000);
    },
  };
}
