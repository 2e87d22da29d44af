/**
 * A count of operations in flight and a bounded wait for it to reach zero: what a close() drains
 * before it lets go of its socket (the sink's Redis writes, the sender's queued datagrams).
 */
export class InFlight {
  private n = 0;
  private idle: (() => void) | undefined;

  /** operations begun and not yet ended */
  get count(): number {
    return this.n;
  }

  begin(): void {
    this.n++;
  }

  /** Ends one operation (the count never goes below zero); the last one wakes {@link drained}. */
  end(): void {
    this.n = Math.max(0, this.n - 1);
    if (this.n === 0) this.idle?.();
  }

  /** Forgets every operation in flight, for when none of them will ever end; wakes {@link drained}. */
  clear(): void {
    this.n = 0;
    this.idle?.();
  }

  /** Resolves once nothing is in flight, or after `timeoutMs` (ms), whichever comes first. */
  async drained(timeoutMs: number): Promise<void> {
    if (this.n === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
