export { main } from './main.js';
export { buildLogsink, type Logsink, type LogsinkDeps, type LogsinkAddresses, type ReceivedLine, type DropReason } from './app.js';
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
export { SyslogFrameDecoder, type SyslogFraming, type SyslogFramingReason } from './protocol/syslog-framing.js';
export {
  decodeNetconsole,
  extendedLine,
  MAX_NETCONSOLE_MESSAGE_BYTES,
  type NetconsoleDatagram,
  type NetconsoleHeader,
  type NetconsoleLine,
  type NetconsoleMalformedReason,
} from './protocol/netconsole.js';
export { NetconsoleReassembler, SequenceGaps, type FragmentOutcome, type ReassemblerOptions, type SequenceGapsOptions } from './domain/netconsole-reassembly.js';
export { createSyslogSender, type SyslogSender, type SyslogSenderOptions } from './adapters/syslog-sender.js';
export { NodeMapper, UNKNOWN_NODE, type NodeDirectory, type NodeMapping, type MappingResult } from './domain/node-mapper.js';
export { RedisLogStore, type LogStore, type SerializedLine } from './adapters/redis-log-store.js';
export {
  compileFailureRules,
  loadFailureRules,
  classifyLine,
  lineSource,
  SHIPPED_FAILURE_RULES,
  FailureRuleSchema,
  FailureRulesFileSchema,
  type FailureRule,
  type FailureRulesFile,
  type RuleSource,
} from './domain/failure-rules.js';
export { RedisClassificationStore, type ClassificationStore, type ClaimedAttempt } from './adapters/redis-classifications.js';
