/**
 * The one base error of swarmboot: a string `code` callers branch on, a `cause`, and context fields.
 * The HTTP API maps codes to a status and a body `{ code, message }`.
 */
export class SwarmbootError extends Error {
  readonly code: string;
  readonly context: Readonly<Record<string, unknown>>;
  constructor(code: string, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SwarmbootError';
    this.code = code;
    this.context = Object.freeze({ ...(options.context ?? {}) });
  }
}

export function isSwarmbootError(err: unknown, code?: string): err is SwarmbootError {
  return err instanceof SwarmbootError && (code === undefined || err.code === code);
}
