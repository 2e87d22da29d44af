import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canarySize, failureBudget, initialController, overBudget, stepController, type AdmissionLimits, type ControllerState, type Observation } from '../src/domain/admission.js';

const LIMITS: AdmissionLimits = { maxInFlight: 50, ratePerSecond: 0, holdMs: 1000 };
const base = (o: Partial<Observation> = {}): Observation => ({ nowMs: 0, bootDone: 0, bootFailed: 0, inFlight: 0, waiting: 100, canaryPending: 0, ...o });

test('the canary holds later waves back until no canary node is left in the boot phase', () => {
  const s0 = initialController(5, LIMITS, 0);
  assert.equal(s0.window, 5);
  const held = stepController(s0, base({ nowMs: 10, bootDone: 4, inFlight: 1, canaryPending: 1 }), LIMITS);
  assert.equal(held.admit, 0);
  assert.equal(held.state.window, 5, 'no growth while the canary boots');
  const open = stepController(held.state, base({ nowMs: 20, bootDone: 5, canaryPending: 0 }), LIMITS);
  assert.equal(open.state.window, 10, 'slow start: one more per completion, those during the canary included');
  assert.equal(open.admit, 10);
});

test('slow start doubles the window per window of completions, then grows by about one per window', () => {
  const limits = { ...LIMITS, maxInFlight: 1000 };
  let s: ControllerState = { ...initialController(4, limits, 0), ssthresh: 16 };
  let done = 0;
  const windows: number[] = [];
  for (let round = 1; round <= 5; round++) {
    done += Math.floor(s.window);
    s = stepController(s, base({ nowMs: round * 100, bootDone: done }), limits).state;
    windows.push(s.window);
  }
  assert.deepEqual(windows.slice(0, 2), [8, 16]);
  assert.ok(windows[2]! > 16 && windows[2]! < 18, `additive increase above ssthresh: ${windows[2]}`);
  assert.ok(windows[4]! < 20);
});

test('a failure halves the window once per hold period', () => {
  const s: ControllerState = { ...initialController(1, LIMITS, 0), window: 40, ssthresh: 50 };
  const a = stepController(s, base({ nowMs: 5000, bootFailed: 3 }), LIMITS);
  assert.equal(a.state.window, 20);
  assert.equal(a.state.ssthresh, 20);
  const b = stepController(a.state, base({ nowMs: 5500, bootFailed: 6 }), LIMITS);
  assert.equal(b.state.window, 20, 'the failures of the same overload do not halve it again');
  const c = stepController(b.state, base({ nowMs: 6100, bootFailed: 7 }), LIMITS);
  assert.equal(c.state.window, 10);
});

test('ratePerSecond caps admissions per second (token bucket, one second of burst)', () => {
  const limits = { ...LIMITS, ratePerSecond: 2 };
  const s: ControllerState = { ...initialController(1, limits, 0), window: 50 };
  const a = stepController(s, base({ nowMs: 10_000 }), limits);
  assert.equal(a.admit, 2, 'burst of one second, not ten');
  const b = stepController(a.state, base({ nowMs: 10_500 }), limits);
  assert.equal(b.admit, 1);
});

test('failure budget: a fraction below 1, a count from 1; over it means more than it', () => {
  assert.equal(failureBudget(0.1, 200), 20);
  assert.equal(failureBudget(0, 200), 0);
  assert.equal(failureBudget(3, 200), 3);
  assert.equal(overBudget(3, 3), false);
  assert.equal(overBudget(4, 3), true);
  assert.equal(canarySize(5, 3, 10), 3);
  assert.equal(canarySize(5, 100, 2), 2);
});

const limitsArb = fc.record({ maxInFlight: fc.integer({ min: 1, max: 500 }), ratePerSecond: fc.oneof(fc.constant(0), fc.double({ min: 0.1, max: 100, noNaN: true })), holdMs: fc.integer({ min: 0, max: 5000 }) });
const stepsArb = fc.array(fc.record({ dt: fc.integer({ min: 0, max: 3000 }), done: fc.nat(20), failed: fc.nat(3), inFlight: fc.nat(600), waiting: fc.nat(1000), canaryPending: fc.oneof(fc.constant(0), fc.nat(5)) }), { maxLength: 60 });

test('property: the window stays within [1, maxInFlight] and admissions never overfill it nor exceed the queue', () => {
  fc.assert(
    fc.property(limitsArb, fc.integer({ min: 1, max: 100 }), stepsArb, (limits, canary, steps) => {
      let s = initialController(canary, limits, 0);
      let now = 0, done = 0, failed = 0;
      for (const st of steps) {
        now += st.dt; done += st.done; failed += st.failed;
        const r = stepController(s, { nowMs: now, bootDone: done, bootFailed: failed, inFlight: st.inFlight, waiting: st.waiting, canaryPending: st.canaryPending }, limits);
        assert.ok(r.state.window >= 1 && r.state.window <= limits.maxInFlight, `window ${r.state.window}`);
        assert.ok(r.admit >= 0 && r.admit <= st.waiting);
        assert.ok(r.admit === 0 || st.inFlight + r.admit <= Math.floor(r.state.window));
        if (st.canaryPending > 0) assert.equal(r.admit, 0);
        s = r.state;
      }
    }),
  );
});

test('property: with nodes waiting and none in flight, some node is admitted (no stall) unless the canary or the rate holds it', () => {
  fc.assert(
    fc.property(limitsArb, stepsArb, fc.integer({ min: 1, max: 1000 }), (limits, steps, waiting) => {
      let s = initialController(1, { ...limits, ratePerSecond: 0 }, 0);
      let now = 0, done = 0, failed = 0;
      for (const st of steps) {
        now += st.dt; done += st.done; failed += st.failed;
        s = stepController(s, { nowMs: now, bootDone: done, bootFailed: failed, inFlight: 0, waiting: st.waiting, canaryPending: 0 }, { ...limits, ratePerSecond: 0 }).state;
      }
      const r = stepController(s, { nowMs: now, bootDone: done, bootFailed: failed, inFlight: 0, waiting, canaryPending: 0 }, { ...limits, ratePerSecond: 0 });
      assert.ok(r.admit >= 1);
    }),
  );
});

test('property: a step with new failures never grows the window, and past the hold it shrinks a window above 1', () => {
  fc.assert(
    fc.property(limitsArb, fc.double({ min: 1, max: 500, noNaN: true }), fc.integer({ min: 1, max: 10 }), fc.nat(50), (limits, w, newFailures, newDone) => {
      const window = Math.min(w, limits.maxInFlight);
      const s: ControllerState = { window, ssthresh: limits.maxInFlight, doneSeen: 0, failedSeen: 0, tokens: 0, atMs: 0, holdUntilMs: 0 };
      const r = stepController(s, { nowMs: 1, bootDone: newDone, bootFailed: newFailures, inFlight: 0, waiting: 10, canaryPending: 0 }, limits);
      assert.ok(r.state.window <= window);
      if (window >= 2) assert.ok(r.state.window < window);
    }),
  );
});
