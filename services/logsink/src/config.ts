import { Type, type Static } from '@sinclair/typebox';
import { DefaultPorts } from '@swarmboot/contracts';
import { CommonConfig, parseAllowlist, parseConfig, parseHostPort } from '@swarmboot/kit';

/** Environment of the log sink. */
export const LogsinkConfigSchema = Type.Object({
  ...CommonConfig,
  SWARMBOOT_SYSLOG_LISTEN: Type.String({ default: `0.0.0.0:${DefaultPorts.syslog}`, description: 'syslog UDP listen address host:port (RFC 5426; the protocol port is 514)' }),
  SWARMBOOT_SYSLOG_TCP_LISTEN: Type.String({
    default: `0.0.0.0:${DefaultPorts.syslogTcp}`,
    description: 'syslog TCP listen address host:port (RFC 6587, octet counting or LF framing; rsyslog and syslog-ng use 514)',
  }),
  SWARMBOOT_SYSLOG_TCP_MAX_CONNECTIONS: Type.Integer({ minimum: 1, default: 1000, description: 'TCP syslog connections open at once; more are refused' }),
  SWARMBOOT_SYSLOG_TCP_IDLE_SECONDS: Type.Integer({ minimum: 1, default: 300, description: 'a TCP syslog connection silent this long is closed' }),
  SWARMBOOT_NETCONSOLE_LISTEN: Type.String({
    default: `0.0.0.0:${DefaultPorts.netconsole}`,
    description: "netconsole UDP listen address host:port (plain and extended format; the scheduler's netconsole= targets port 6666)",
  }),
  SWARMBOOT_FAILURE_RULES: Type.String({
    default: '',
    description: 'failure rule file (YAML or JSON) the log lines are classified with; empty: the shipped rules/failure-rules.yaml',
  }),
  SWARMBOOT_LOGSINK_ALLOWED_SUBNETS: Type.String({
    default: '',
    description: 'CIDR ranges (comma-separated) of the provisioning networks whose syslog and netconsole input is taken; datagrams and connections from elsewhere are dropped and counted (reason not_allowed). Empty: anyone',
  }),
  SWARMBOOT_LOGSINK_UDP_RECV_BUFFER_BYTES: Type.Integer({
    minimum: 65536,
    // 32 MiB: at 50 000 lines/s on 2 loaded cores (load 6–7) a 4 MiB buffer lost 10–11 % of UDP
    // lines, 32 MiB 0–0.9 % (bench/logsink, docs/benchmarks.md "Log sink", 2026-12-02). Only
    // honoured up to net.core.rmem_max.
    default: 32 * 1024 * 1024,
    description:
      'kernel receive buffer (SO_RCVBUF, bytes) asked for each UDP socket (syslog, netconsole): datagrams that arrive while it is full are lost (RcvbufErrors); Linux caps it at net.core.rmem_max, raise that sysctl to get it',
  }),
  SWARMBOOT_LOG_MAXLEN: Type.Integer({ minimum: 1, default: 20000, description: 'lines kept per node stream (XADD MAXLEN ~)' }),
  SWARMBOOT_OPS_LISTEN: Type.String({ default: `0.0.0.0:${DefaultPorts.ops.logsink}`, description: '/healthz and /metrics listen address host:port' }),
});
export type LogsinkConfig = Static<typeof LogsinkConfigSchema>;

/** Parses and checks the log sink's environment; throws SwarmbootError CONFIG_INVALID naming the variable. */
export function loadConfig(env: Record<string, string | undefined>): Readonly<LogsinkConfig> {
  const config = parseConfig(LogsinkConfigSchema, env);
  parseHostPort(config.SWARMBOOT_SYSLOG_LISTEN, 'SWARMBOOT_SYSLOG_LISTEN');
  parseHostPort(config.SWARMBOOT_SYSLOG_TCP_LISTEN, 'SWARMBOOT_SYSLOG_TCP_LISTEN');
  parseHostPort(config.SWARMBOOT_NETCONSOLE_LISTEN, 'SWARMBOOT_NETCONSOLE_LISTEN');
  parseHostPort(config.SWARMBOOT_OPS_LISTEN, 'SWARMBOOT_OPS_LISTEN');
  parseAllowlist(config.SWARMBOOT_LOGSINK_ALLOWED_SUBNETS, 'SWARMBOOT_LOGSINK_ALLOWED_SUBNETS');
  return config;
}
