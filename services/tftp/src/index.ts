export { main } from './main.js';
export { buildTftpServer, type TftpServer, type TftpServerConfig, type TftpServerDeps } from './app.js';
export { loadConfig, TftpConfigSchema, type TftpConfig } from './config.js';
export {
  decodeTftp,
  encodeTftp,
  toNetascii,
  Opcode,
  TftpErrorCode,
  type TftpPacket,
  type TftpRequest,
  type TftpData,
  type TftpAck,
  type TftpError,
  type TftpOack,
  type TftpMode,
  type TftpOptions,
} from './protocol/tftp.js';
export { negotiateRead, DEFAULT_BLKSIZE, BLKSIZE_MIN, BLKSIZE_MAX, type NegotiatedRead } from './domain/options.js';
export { ReadTransfer, type TransferOutcome, type TransferStep } from './domain/read-transfer.js';
export { normalizeRequestPath } from './domain/paths.js';
export { tftpGet, type TftpGetOptions, type TftpGetResult } from './client/tftp-get.js';
