import type { Logger } from './logger.js';

export type Closer = () => Promise<void> | void;

/**
 * The one shutdown path of a process: SIGTERM/SIGINT run the registered closers in reverse order
 * of registration (listeners first, then NATS drain, then Redis quit), then exit 0. `fail(err)`
 * — a listener that died — runs the same path and exits 1.
 */
export class Lifecycle {
  private readonly closers: { name: string; close: Closer }[] = [];
  private readonly signalHandlers: { sig: NodeJS.Signals; handler: () => void }[] = [];
  private stopping: Promise<void> | undefined;
  readonly controller = new AbortController();

  /** `exit` ends the process (default `process.exit`); tests inject their own to observe the code. */
  constructor(
    private readonly log: Logger,
    private readonly exit: (code: number) => void = (code) => process.exit(code),
  ) {}

  add(name: string, close: Closer): void {
    this.closers.push({ name, close });
  }

  /** true once `stop()` (signal, `fail`, or a failed start-up) began: closes seen now are expected. */
  get stopped(): boolean {
    return this.controller.signal.aborted;
  }

  /** SIGTERM/SIGINT: stop, then exit 0. The handlers are removed again by `stop()`. */
  handleSignals(): void {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      const handler = (): void => {
        this.log.info({ signal: sig }, 'shutting down');
        void this.stop().then(() => this.exit(0));
      };
      this.signalHandlers.push({ sig, handler });
      process.once(sig, handler);
    }
  }

  fail(err: unknown): void {
    this.log.fatal({ err }, 'fatal error; shutting down');
    void this.stop().then(() => this.exit(1));
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.controller.abort();
      // a second signal during shutdown gets node's default: the process ends at once
      for (const { sig, handler } of this.signalHandlers.splice(0)) process.off(sig, handler);
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
