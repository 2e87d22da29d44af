import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { DestinationStream, Logger } from 'pino';

/**
 * Paths pino censors in every line: the bearer token of a request, wherever a request or its
 * headers are logged (fastify's `req` serializer, a handler logging `req.headers`).
 */
export const REDACTED_PATHS = ['req.headers.authorization', 'headers.authorization', 'request.headers.authorization', 'authorization'];

/**
 * The one root logger of a process; components take `log.child({ component })`. `redact`: pino
 * redaction paths (e.g. `*.password`), besides REDACTED_PATHS, whose values are logged as
 * `[Redacted]` — for a service that holds secrets, so that an error object carrying one never
 * prints it. Lines go to stdout, or to `destination` (tests capture them there).
 */
export function createLogger(svc: string, level: LevelWithSilent = 'info', redact: readonly string[] = [], destination?: DestinationStream): Logger {
  const options = { level, base: { svc }, timestamp: pino.stdTimeFunctions.isoTime, redact: [...REDACTED_PATHS, ...redact] };
  return destination === undefined ? pino(options) : pino(options, destination);
}
