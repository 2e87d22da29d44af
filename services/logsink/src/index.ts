export { main } from './main.js';
export { buildLogsink, type Logsink, type LogsinkDeps, type ReceivedLine, type DropReason } from './app.js';
export { loadConfig, LogsinkConfigSchema, type LogsinkConfig } from './config.js';
export {
  parseSyslog,
  formatRfc5424,
  MAX_SYSLOG_BYTES,
  SEND_MAX_BYTES,
  SyslogSeverity,
  SyslogFacility,
  type ParsedSyslog,
  type SdElement,
  type SyslogFormat,
  type SyslogMalformedReason,
  type Rfc5424Fields,
} from './protocol/syslog.js';
export { createSyslogSender, type SyslogSender, type SyslogSenderOptions } from './adapters/syslog-sender.js';
export { NodeMapper, UNKNOWN_NODE, type NodeDirectory, type NodeMapping, type MappingResult } from './domain/node-mapper.js';
export { RedisLogStore, type LogStore } from './adapters/redis-log-store.js';
