import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { InFlight } from '../domain/in-flight.js';
import { formatRfc5424, SyslogFacility } from '../protocol/syslog.js';

export interface SyslogSenderOptions {
  /** the log sink (UDP) */
  target: { host: string; port: number };
  /** address to send from — the node's own IP, so the sink maps the line through its DHCP lease */
  localAddress?: string;
  /** RFC 5424 HOSTNAME */
  hostname: string;
  /** RFC 5424 APP-NAME (≤ 48 printable ASCII characters) */
  app: string;
  /** called on socket errors (bind failure, ICMP errors); default: ignored, as syslog over UDP is fire-and-forget */
  onError?: (err: Error) => void;
}

export interface SyslogSender {
  /**
   * Sends `msg` at `severity` (0 emerg … 7 debug) as RFC 5424 lines, facility user (1), PROCID the
   * process id. A multi-line `msg` becomes one datagram per non-empty line; each is cut to 2048
   * bytes (RFC 5426 §3.2). Fire-and-forget: never throws for network reasons; throws
   * SwarmbootError SYSLOG_INVALID for a severity out of 0..7.
   */
  send(severity: number, msg: string): void;
  /** Waits for queued datagrams (at most 2 s), then closes the socket. */
  close(): Promise<void>;
}

/**
 * A tiny RFC 5424-over-UDP (RFC 5426) client for the node agent. Facility user (1): the agent is
 * an ordinary user-space program (syslog(3)'s default LOG_USER), so a node's own daemons keep
 * local0..7 for themselves.
 */
export function createSyslogSender(opts: SyslogSenderOptions): SyslogSender {
  const family = isIPv6(opts.target.host) ? 'udp6' : 'udp4';
  const socket: Socket = createSocket({ type: family });
  const onError = opts.onError ?? (() => undefined);
  const pending = new InFlight();
  let closed = false;
  let bound = false;
  let bindFailed = false;
  const procId = String(process.pid);
  socket.on('error', (err) => {
    if (!bound) {
      // dgram discards the sends it queued during a failed bind without calling back; and a
      // later send would silently bind to the wildcard address, so the sink could no longer map
      // us by lease. Stop sending instead.
      bindFailed = true;
      pending.clear();
    }
    onError(err);
  });
  socket.once('listening', () => (bound = true));
  // Binding first makes dgram queue the sends until the address is ours (or the bind failed).
  socket.bind({ port: 0, ...(opts.localAddress === undefined ? {} : { address: opts.localAddress }) });

  const settle = (err: Error | null): void => {
    if (err) onError(err);
    pending.end();
  };

  return {
    send(severity, msg) {
      const lines = msg.split(/\r?\n/).filter((l) => l.trim() !== '');
      const now = new Date();
      const datagrams = (lines.length === 0 ? [''] : lines).map((message) =>
        formatRfc5424({ facility: SyslogFacility.user, severity, timestamp: now, hostname: opts.hostname, app: opts.app, procId, message }),
      );
      if (closed || bindFailed) return;
      for (const d of datagrams) {
        pending.begin();
        socket.send(d, opts.target.port, opts.target.host, settle);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pending.drained(2000);
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}
