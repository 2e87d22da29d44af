import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { SwarmbootError, type ErrorCode, type PowerAction } from '@swarmboot/contracts';
import { createLogger } from '@swarmboot/kit';
import { buildPower, type PowerLimits } from '../src/app.js';
import { BmcInventory, type BmcTarget } from '../src/domain/inventory.js';
import type { DriverResult, PowerDriver } from '../src/drivers/driver.js';

// The core (`handle`) with a driver that records what reaches the BMC side: when each operation
// starts, how many run at once, and fails as told. The real drivers are tested against BMC
// simulators in test/integration/power.test.ts.

class RecordingDriver implements PowerDriver {
  readonly name = 'redfish' as const;
  starts: number[] = [];
  running = 0;
  maxRunning = 0;
  constructor(
    private readonly holdMs: number,
    private readonly failures: ErrorCode[] = [],
  ) {}
  async run(_action: PowerAction, _target: BmcTarget): Promise<DriverResult> {
    this.starts.push(performance.now());
    this.running += 1;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    await new Promise((r) => setTimeout(r, this.holdMs));
    this.running -= 1;
    const code = this.failures.shift();
    if (code !== undefined) throw new SwarmbootError(code, `told to fail with ${code}`);
    return { powerState: 'Off' };
  }
}

// coalescing off: these tests send many requests for one node on purpose (power-coalesce.test.ts has it on)
function power(driver: RecordingDriver, limits: Omit<PowerLimits, 'coalesceMs'>) {
  const inventory = new BmcInventory({ n: { driver: 'redfish', address: 'bmc.example', credentials: 'c' } }, { c: { username: 'u', password: 'p' } });
  return buildPower({ log: createLogger('test', 'silent'), registry: new Registry(), inventory, drivers: { redfish: driver, ipmi: driver as unknown as PowerDriver, qmp: driver as unknown as PowerDriver }, limits: { ...limits, coalesceMs: 0 } });
}

const retry = { retries: 3, baseMs: 20, maxMs: 100 };

test('at most maxInFlight operations run at once, and starts are spaced by 1/rate', async () => {
  const driver = new RecordingDriver(120);
  const p = power(driver, { maxInFlight: 3, ratePerSecond: 25, retry });
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) => p.handle({ requestId: `r${i}`, nodeId: 'n', action: 'on' })));
  assert.ok(results.every((r) => r.kind === 'completed'));
  assert.equal(driver.starts.length, 12);
  assert.ok(driver.maxRunning <= 3, `ran ${driver.maxRunning} at once`);
  const gaps = driver.starts.slice(1).map((t, i) => t - (driver.starts[i] ?? 0));
  // 25/s → one start per 40 ms; timers may fire a millisecond early
  assert.ok(Math.min(...gaps) >= 38, `gaps ${gaps.map((g) => g.toFixed(0)).join(',')}`);
});

test('retryable failures are retried with backoff and the attempts counted; refused credentials are not', async () => {
  const flaky = new RecordingDriver(1, ['BMC_SERVER_ERROR', 'BMC_TIMEOUT']);
  const ok = await power(flaky, { maxInFlight: 1, ratePerSecond: 1000, retry }).handle({ requestId: 'a', nodeId: 'n', action: 'cycle' });
  assert.equal(ok.kind, 'completed');
  assert.equal(ok.data.attempts, 3);
  // backoff 20 ms then 40 ms (doubling): the third attempt starts ≥ 60 ms after the first (a
  // constant 20 ms backoff would allow 40); timers may fire a millisecond early
  const waited = (flaky.starts[2] ?? 0) - (flaky.starts[0] ?? 0);
  assert.ok(waited >= 58, `third attempt ${waited.toFixed(0)} ms after the first`);

  const refused = new RecordingDriver(1, ['BMC_AUTH_FAILED']);
  const failed = await power(refused, { maxInFlight: 1, ratePerSecond: 1000, retry }).handle({ requestId: 'b', nodeId: 'n', action: 'cycle' });
  assert.equal(failed.kind, 'failed');
  if (failed.kind === 'failed') assert.deepEqual([failed.data.code, failed.data.attempts, refused.starts.length], ['BMC_AUTH_FAILED', 1, 1]);

  const dead = new RecordingDriver(1, ['BMC_TIMEOUT', 'BMC_TIMEOUT', 'BMC_TIMEOUT', 'BMC_TIMEOUT', 'BMC_TIMEOUT']);
  const gaveUp = await power(dead, { maxInFlight: 1, ratePerSecond: 1000, retry: { ...retry, retries: 2 } }).handle({ requestId: 'c', nodeId: 'n', action: 'on' });
  assert.equal(gaveUp.kind, 'failed');
  if (gaveUp.kind === 'failed') assert.deepEqual([gaveUp.data.code, dead.starts.length], ['BMC_TIMEOUT', gaveUp.data.attempts]);
});
