import type { Logger } from './logger.js';

export type Closer = () => Promise<void> | void;

/**
 * The one shutdown path of a process: SIGTERM/SIGINT run the registered closers in reverse order
 * of registration (listeners first, then NATS drain, then Redis quit), then exit 0. `fail(err)`
 * — a listener that died — runs the same path and exits 1.
 */
export class Lifecycle {
  private readonly closers: { name: string; close: Closer }[] = [];
  private stopping: Promise<void> | undefined;
  readonly controller = new AbortController();

  constructor(private readonly log: Logger) {}

  add(name: string, close: Closer): void {
    this.closers.push({ name, close });
  }

  handleSignals(): void {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        this.log.info({ signal: sig }, 'shutting down');
        void this.stop().then(() => process.exit(0));
      });
    }
  }

  fail(err: unknown): void {
    this.log.fatal({ err }, 'fatal error; shutting down');
    void this.stop().then(() => process.exit(1));
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.controller.abort();
      for (const { name, close } of [...this.closers].reverse()) {
        try {
          await Promise.race([Promise.resolve().then(close), new Promise((r) => setTimeout(r, 5000).unref())]);
        } catch (err) {
          this.log.warn({ err, name }, 'close failed');
        }
      }
    })();
    return this.stopping;
  }
}
