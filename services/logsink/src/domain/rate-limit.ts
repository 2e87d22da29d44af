/**
 * Lets at most `burst` events through per `intervalMs` window and reports how many were held
 * back when the next event after the window passes. A storm of garbage datagrams thus costs a
 * handful of warn lines per window instead of one per datagram.
 */
export class RateLimiter {
  private windowStart = -Infinity;
  private passed = 0;
  private suppressed = 0;

  constructor(
    private readonly burst = 10,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * `allowed`: this event may be logged; `suppressedBefore`: events held back in the previous
   * window(s) since the last allowed one (report it with the allowed event).
   */
  take(): { allowed: boolean; suppressedBefore: number } {
    const t = this.now();
    if (t - this.windowStart >= this.intervalMs) {
      this.windowStart = t;
      this.passed = 0;
    }
    if (this.passed < this.burst) {
      this.passed++;
      const suppressedBefore = this.suppressed;
      this.suppressed = 0;
      return { allowed: true, suppressedBefore };
    }
    this.suppressed++;
    return { allowed: false, suppressedBefore: 0 };
  }
}
