import { randomUUID } from 'node:crypto';
import type { RemoteInfo, Socket } from 'node:dgram';
import { Events, isSwarmbootError, type TftpTransfer } from '@swarmboot/contracts';
import { bindUdp, plainAddress, Registry, type EventBus, type Logger, type UdpPeer } from '@swarmboot/kit';
import { decodeTftp, TftpErrorCode, toNetascii, type TftpPacket, type TftpRequest } from './protocol/tftp.js';
import { BLKSIZE_MAX, negotiateRead } from './domain/options.js';
import { ReadTransfer, type TransferOutcome } from './domain/read-transfer.js';
import { FileStore } from './adapters/file-store.js';
import { createTftpMetrics, type TftpMetrics } from './adapters/metrics.js';
import { TransmitScheduler } from './adapters/scheduler.js';
import { sendPacket, TransferSession } from './adapters/transfer-session.js';

export interface TftpServerConfig {
  /** listen address (IPv4 or IPv6 literal) */
  readonly host: string;
  /** listen port (UDP); 0 picks a free one */
  readonly port: number;
  /** served directory; must exist */
  readonly root: string;
  /** initial retransmission timeout and its upper clamp when the client asks no `timeout` option (ms); default 1000 */
  readonly timeoutMs?: number;
  /** lower clamp of the measured retransmission timeout (ms); default 40 */
  readonly minRtoMs?: number;
  /** a transfer without progress for (retries + 1) × the RTO's upper clamp fails; default 5 */
  readonly retries?: number;
  /** largest RFC 7440 windowsize granted (blocks); default 64; 1 declines windowsize */
  readonly maxWindowsize?: number;
  /** total send budget of the server (bytes/s on the wire), shared by every transfer; 0 = unpaced (default) */
  readonly rateBytesPerSec?: number;
  /** transfers sending at once; more requests wait, but each is answered within `admitWithinMs` anyway; 0 = no limit (default) */
  readonly maxTransfers?: number;
  /** longest wait of a queued request before it is answered even over `maxTransfers` (ms); default 900, under a PXE ROM's first timeout */
  readonly admitWithinMs?: number;
  /** largest blksize granted (bytes, 8..65464); default 65464 */
  readonly maxBlksize?: number;
  /** memory budget of the file cache (bytes); default 256 MiB */
  readonly cacheBytes?: number;
}

export interface TftpServerDeps {
  readonly log: Logger;
  readonly config: TftpServerConfig;
  /** transfer events go here; undefined (or absent) runs the server standalone, without events */
  readonly bus?: EventBus | undefined;
  /** metrics registry (the ops endpoint's); a private one when absent */
  readonly registry?: Registry;
  /** the fatal path: the listening socket failed after start-up (runService's `onFatal`) */
  readonly onFatal?: (err: unknown) => void;
}

export interface TftpServer {
  /** Binds the listener; resolves with the bound address. Throws TFTP_ROOT_INVALID, or the bind error. */
  listen(): Promise<UdpPeer>;
  /** Closes the listener and ends every transfer (reported as failed: shutdown). */
  close(): Promise<void>;
  readonly registry: Registry;
  readonly listening: boolean;
  readonly activeTransfers: number;
}

const DEFAULTS = { timeoutMs: 1000, minRtoMs: 40, retries: 5, maxBlksize: BLKSIZE_MAX, maxWindowsize: 64, rateBytesPerSec: 0, maxTransfers: 0, admitWithinMs: 900, cacheBytes: 256 * 1024 * 1024 } as const;

/**
 * The read-only TFTP server (RFC 1350 with RFC 2347/2348/2349 options). Each accepted read
 * request gets its own socket and a ReadTransfer state machine; write requests, paths leaving the
 * root and missing files are answered with an ERROR from a fresh socket; malformed datagrams are
 * counted (`swarmboot_tftp_dropped_total{reason}`), logged at warn and never answered.
 *
 * Events (fire and forget; a slow or absent NATS never holds a transfer): `tftpTransferStarted`
 * when a request is accepted, `tftpTransferCompleted` on the final ACK, `tftpTransferFailed` on
 * timeout, client ERROR, refusal or shutdown. A client ending with ERROR 8 after our OACK (the
 * UEFI tsize probe) ends quietly: neither completed nor failed.
 */
export function buildTftpServer(deps: TftpServerDeps): TftpServer {
  const c = deps.config;
  const cfg = {
    host: c.host,
    port: c.port,
    root: c.root,
    timeoutMs: c.timeoutMs ?? DEFAULTS.timeoutMs,
    minRtoMs: c.minRtoMs ?? DEFAULTS.minRtoMs,
    retries: c.retries ?? DEFAULTS.retries,
    maxBlksize: c.maxBlksize ?? DEFAULTS.maxBlksize,
    // windows beyond 1024 blocks would make 16-bit ACK numbers ambiguous long before they help
    maxWindowsize: Math.min(1024, c.maxWindowsize ?? DEFAULTS.maxWindowsize),
    rateBytesPerSec: c.rateBytesPerSec ?? DEFAULTS.rateBytesPerSec,
    maxTransfers: c.maxTransfers ?? DEFAULTS.maxTransfers,
    admitWithinMs: c.admitWithinMs ?? DEFAULTS.admitWithinMs,
    cacheBytes: c.cacheBytes ?? DEFAULTS.cacheBytes,
  };
  const log = deps.log.child({ component: 'tftp' });
  const registry = deps.registry ?? new Registry();
  const metrics: TftpMetrics = createTftpMetrics(registry);
  const files = new FileStore({ root: cfg.root, cacheBytes: cfg.cacheBytes });
  const scheduler = new TransmitScheduler({ rateBytesPerSec: cfg.rateBytesPerSec });
  /** transfers by client TID `address:port` (a retransmitted RRQ must not start a second transfer) */
  const sessions = new Map<string, TransferSession | 'opening' | 'waiting'>();
  /** requests waiting for a transfer slot (FIFO) */
  const waiting: { req: TftpRequest; client: UdpPeer; key: string; timer: NodeJS.Timeout }[] = [];
  let running = 0;
  let listener: Socket | undefined;
  let listening = false;
  let closing = false;

  /** A fresh socket on the listen address, port chosen by the kernel: a new TID (RFC 1350 §4). */
  function bindTid(): Promise<Socket> {
    return bindUdp({ host: cfg.host, port: 0 });
  }

  function publish(def: typeof Events.tftpTransferStarted, data: TftpTransfer): void {
    if (!deps.bus) return;
    deps.bus.publish(def, data).catch((err: unknown) => log.warn({ err, type: def.type, transferId: data.transferId }, 'event publish failed'));
  }

  function eventData(id: string, client: UdpPeer, file: string, fields: Partial<TftpTransfer>): TftpTransfer {
    return { transferId: id, clientAddress: plainAddress(client.address), clientPort: client.port, file, bytes: 0, durationMs: 0, blksize: 512, windowsize: 1, retransmissions: 0, ...fields };
  }

  /** Answers a request with an ERROR from a fresh socket (the reply of a new TID, as a transfer would come). */
  async function refuse(id: string, req: TftpRequest, client: UdpPeer, code: number, message: string, tlog: Logger): Promise<void> {
    metrics.transfers.inc({ result: 'refused' });
    tlog.info({ code, reason: message }, 'tftp request refused');
    publish(Events.tftpTransferFailed, eventData(id, client, req.filename, { error: `refused (ERROR ${code}): ${message}` }));
    const socket = await bindTid();
    sendPacket(scheduler, socket, { kind: 'ERROR', code, message }, client, tlog, true, () => socket.close());
  }

  async function startRead(req: TftpRequest, client: UdpPeer, key: string): Promise<void> {
    const id = randomUUID();
    const tlog = log.child({ transferId: id, client: `${client.address}:${client.port}`, file: req.filename });
    try {
      if (req.mode === 'mail') return await refuse(id, req, client, TftpErrorCode.illegalOperation, 'mail mode not supported', tlog);
      let file;
      try {
        file = await files.open(req.filename);
      } catch (err) {
        if (isSwarmbootError(err, 'TFTP_FILE_NOT_FOUND')) return await refuse(id, req, client, TftpErrorCode.fileNotFound, 'File not found', tlog);
        if (isSwarmbootError(err, 'TFTP_ACCESS_VIOLATION')) return await refuse(id, req, client, TftpErrorCode.accessViolation, 'Access violation', tlog);
        throw err;
      }
      if (closing) return;
      const data = req.mode === 'netascii' ? toNetascii(file.data) : file.data;
      const negotiated = negotiateRead(req.options, data.length, { maxBlksize: cfg.maxBlksize, maxWindowsize: cfg.maxWindowsize });
      // time decides failure (giveUpMs), not a count: with an RTO of tens of ms a count would be seconds too short
      const transfer = new ReadTransfer({ data, blksize: negotiated.blksize, windowsize: negotiated.windowsize, oack: negotiated.oack, maxRetries: Number.MAX_SAFE_INTEGER });
      // RFC 2349: the client resends after `timeout` s; resend at half of it at the latest so it never has to.
      const maxMs = negotiated.timeoutMs === undefined ? cfg.timeoutMs : Math.min(cfg.timeoutMs, negotiated.timeoutMs / 2);
      const rto = { initialMs: maxMs, minMs: Math.min(cfg.minRtoMs, maxMs), maxMs, giveUpMs: (cfg.retries + 1) * Math.max(maxMs, negotiated.timeoutMs ?? 0) };
      const socket = await bindTid();
      const session = new TransferSession({
        id,
        client,
        socket,
        transfer,
        rto,
        scheduler,
        log: tlog,
        metrics,
        onEnd: (outcome, s) => ended(outcome, s, req, negotiated.blksize, negotiated.windowsize, key, tlog),
      });
      sessions.set(key, session);
      metrics.active.inc();
      tlog.info({ size: data.length, blksize: negotiated.blksize, windowsize: negotiated.windowsize, oack: negotiated.oack ? Object.fromEntries(negotiated.oack) : undefined }, 'tftp transfer started');
      publish(Events.tftpTransferStarted, eventData(id, client, req.filename, { blksize: negotiated.blksize, windowsize: negotiated.windowsize }));
      session.start();
    } catch (err) {
      tlog.error({ err }, 'tftp request failed');
    } finally {
      if (sessions.get(key) === 'opening') {
        sessions.delete(key);
        release();
      }
    }
  }

  /** A transfer slot is free (or a request was refused): admit the oldest waiting request. */
  function release(): void {
    running--;
    while (waiting.length > 0 && (cfg.maxTransfers === 0 || running < cfg.maxTransfers)) {
      const w = waiting.shift()!;
      clearTimeout(w.timer);
      admit(w.req, w.client, w.key);
    }
  }

  function admit(req: TftpRequest, client: UdpPeer, key: string): void {
    running++;
    sessions.set(key, 'opening');
    void startRead(req, client, key);
  }

  function ended(outcome: TransferOutcome, s: TransferSession, req: TftpRequest, blksize: number, windowsize: number, key: string, tlog: Logger): void {
    if (sessions.get(key) === s) sessions.delete(key);
    metrics.active.dec();
    release();
    metrics.transfers.inc({ result: outcome.kind });
    const t = s.transfer;
    const durationMs = Math.round(s.elapsedMs * 1000) / 1000;
    const fields = { bytes: t.bytesSent, durationMs, blksize, windowsize, retransmissions: t.retransmissions };
    if (outcome.kind === 'completed') {
      metrics.fileBytes.inc(t.size);
      metrics.duration.observe(durationMs / 1000);
      tlog.info(fields, 'tftp transfer completed');
      publish(Events.tftpTransferCompleted, eventData(s.id, s.client, req.filename, fields));
    } else if (outcome.kind === 'aborted') {
      tlog.info({ reason: outcome.reason }, 'tftp transfer ended by the client after OACK');
    } else {
      tlog.warn({ ...fields, reason: outcome.reason }, 'tftp transfer failed');
      publish(Events.tftpTransferFailed, eventData(s.id, s.client, req.filename, { ...fields, error: outcome.reason }));
    }
  }

  function onRequest(msg: Buffer, rinfo: RemoteInfo): void {
    let packet: TftpPacket;
    try {
      packet = decodeTftp(msg);
    } catch (err) {
      metrics.dropped.inc({ reason: 'malformed' });
      log.warn({ err, from: `${rinfo.address}:${rinfo.port}`, length: msg.length }, 'dropped a malformed tftp packet');
      return;
    }
    const client: UdpPeer = { address: rinfo.address, port: rinfo.port };
    if (packet.kind === 'WRQ') {
      const id = randomUUID();
      void refuse(id, packet, client, TftpErrorCode.accessViolation, 'read-only server', log.child({ transferId: id, client: `${client.address}:${client.port}`, file: packet.filename })).catch((err: unknown) => log.error({ err }, 'refusal failed'));
      return;
    }
    if (packet.kind !== 'RRQ') {
      // DATA/ACK/ERROR/OACK belong to a transfer's own port, never to the listener.
      metrics.dropped.inc({ reason: 'unexpected_opcode' });
      log.warn({ from: `${rinfo.address}:${rinfo.port}`, kind: packet.kind }, 'dropped a non-request packet on the listener');
      return;
    }
    const key = `${rinfo.address}:${rinfo.port}`;
    const existing = sessions.get(key);
    if (existing !== undefined) {
      // The client resent its RRQ because our first answer is late or lost; the transfer's own
      // timer resends that answer, so a second transfer would only double the traffic. The
      // client is in trouble, though: its datagrams go first from now on.
      if (typeof existing !== 'string') existing.markTrouble('repeated RRQ');
      metrics.dropped.inc({ reason: 'duplicate_request' });
      log.debug({ client: key }, 'duplicate read request ignored');
      return;
    }
    if (closing) return;
    if (cfg.maxTransfers === 0 || running < cfg.maxTransfers) return admit(packet, client, key);
    // Saturated: wait for a slot, but never past a PXE ROM's first timeout — a client that gets
    // no answer in time retries, and many ROMs give up after a few.
    sessions.set(key, 'waiting');
    metrics.queued.inc();
    const entry = {
      req: packet,
      client,
      key,
      timer: setTimeout(() => {
        const i = waiting.indexOf(entry);
        if (i < 0) return;
        waiting.splice(i, 1);
        metrics.admittedOverLimit.inc();
        admit(entry.req, entry.client, entry.key);
      }, cfg.admitWithinMs),
    };
    waiting.push(entry);
  }

  return {
    get registry() {
      return registry;
    },
    get listening() {
      return listening;
    },
    get activeTransfers() {
      return [...sessions.values()].filter((s) => typeof s !== 'string').length;
    },
    async listen(): Promise<UdpPeer> {
      await files.init();
      const socket = await bindUdp({ host: cfg.host, port: cfg.port });
      socket.on('message', onRequest);
      socket.on('error', (err) => {
        log.error({ err }, 'tftp listener failed');
        listening = false;
        deps.onFatal?.(err);
      });
      listener = socket;
      listening = true;
      const addr = socket.address();
      log.info({ host: addr.address, port: addr.port, root: cfg.root }, 'tftp listening');
      return { address: addr.address, port: addr.port };
    },
    async close(): Promise<void> {
      closing = true;
      for (const w of waiting.splice(0)) clearTimeout(w.timer);
      for (const s of sessions.values()) if (typeof s !== 'string') s.stop('server shutting down');
      sessions.clear();
      scheduler.close();
      const l = listener;
      listener = undefined;
      listening = false;
      if (l) await new Promise<void>((resolve) => l.close(() => resolve()));
    },
  };
}
