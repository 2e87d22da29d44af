import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/** The one root logger of a process; components take `log.child({ component })`. */
export function createLogger(svc: string, level: LevelWithSilent = 'info'): Logger {
  return pino({ level, base: { svc }, timestamp: pino.stdTimeFunctions.isoTime });
}
