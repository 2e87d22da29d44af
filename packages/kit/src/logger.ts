import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/**
 * The one root logger of a process; components take `log.child({ component })`. `redact`: pino
 * redaction paths (e.g. `*.password`) whose values are logged as `[Redacted]` — for a service that
 * holds secrets, so that an error object carrying one never prints it.
 */
export function createLogger(svc: string, level: LevelWithSilent = 'info', redact: readonly string[] = []): Logger {
  return pino({ level, base: { svc }, timestamp: pino.stdTimeFunctions.isoTime, ...(redact.length > 0 ? { redact: [...redact] } : {}) });
}
