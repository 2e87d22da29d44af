import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { SwarmbootError, type PowerAction } from '@swarmboot/contracts';
import { createLogger } from '@swarmboot/kit';
import { buildPower, type PowerOutcome } from '../src/app.js';
import { BmcInventory, type BmcTarget } from '../src/domain/inventory.js';
import type { DriverResult, PowerDriver } from '../src/drivers/driver.js';

// Coalescing in the core (`handle`): what reaches the driver when the same node gets the same
// request twice close together — a wave's pxe-boot and a recovery retry, or a CLI user pressing
// twice. The driver records each operation (node, action) and holds it `holdMs`.

class CountingDriver implements PowerDriver {
  readonly name = 'qmp' as const;
  ops: string[] = [];
  constructor(
    private readonly holdMs: number,
    private failNext = false,
  ) {}
  async run(action: PowerAction, target: BmcTarget): Promise<DriverResult> {
    this.ops.push(`${target.ref.address} ${action}`);
    await sleep(this.holdMs);
    if (this.failNext) {
      this.failNext = false;
      throw new SwarmbootError('BMC_REJECTED', 'told to fail');
    }
    return { powerState: 'Off' };
  }
}

function power(driver: CountingDriver, coalesceMs: number) {
  const inventory = new BmcInventory({ a: { driver: 'qmp', address: '/lab/a.qmp' }, b: { driver: 'qmp', address: '/lab/b.qmp' } }, {});
  const registry = new Registry();
  const p = buildPower({
    log: createLogger('test', 'silent'),
    registry,
    inventory,
    drivers: { qmp: driver, redfish: driver as unknown as PowerDriver, ipmi: driver as unknown as PowerDriver },
    limits: { maxInFlight: 4, ratePerSecond: 1000, retry: { retries: 0, baseMs: 1, maxMs: 1 }, coalesceMs },
  });
  return { p, registry };
}
const req = (requestId: string, nodeId: string, action: PowerAction) => ({ requestId, nodeId, action });
const ids = (o: PowerOutcome) => [o.kind, o.data.requestId, o.data.coalescedWith];

test('two pxe-boots of one node in flight together: one BMC operation, both answered, the second naming the first', async () => {
  const driver = new CountingDriver(100);
  const { p, registry } = power(driver, 1000);
  const [first, second, other] = await Promise.all([p.handle(req('wave', 'a', 'pxe-boot')), p.handle(req('retry', 'a', 'pxe-boot')), p.handle(req('b1', 'b', 'pxe-boot'))]);
  assert.deepEqual(driver.ops, ['/lab/a.qmp pxe-boot', '/lab/b.qmp pxe-boot'], 'one operation per node');
  assert.deepEqual(ids(first), ['completed', 'wave', undefined]);
  assert.deepEqual(ids(second), ['completed', 'retry', 'wave']);
  assert.deepEqual(ids(other), ['completed', 'b1', undefined]);
  assert.match(await registry.metrics(), /swarmboot_power_coalesced_total\{action="pxe-boot",with="in-flight"\} 1/);
});

test('a pxe-boot within the window of a completed one is answered from it; after the window, and for cycle, the BMC acts again', async () => {
  const driver = new CountingDriver(5);
  const { p } = power(driver, 300);
  await p.handle(req('r1', 'a', 'pxe-boot'));
  const soon = await p.handle(req('r2', 'a', 'pxe-boot'));
  assert.deepEqual(ids(soon), ['completed', 'r2', 'r1']);
  assert.equal(driver.ops.length, 1);
  // another action of the same node is its own request
  await p.handle(req('r3', 'a', 'off'));
  assert.equal(driver.ops.length, 2);
  // cycle asks for a new restart each time
  await p.handle(req('c1', 'a', 'cycle'));
  await p.handle(req('c2', 'a', 'cycle'));
  assert.equal(driver.ops.filter((o) => o.endsWith('cycle')).length, 2);
  await sleep(350);
  const later = await p.handle(req('r4', 'a', 'pxe-boot'));
  assert.deepEqual(ids(later), ['completed', 'r4', undefined]);
  assert.equal(driver.ops.filter((o) => o.endsWith('pxe-boot')).length, 2);
});

test('a failure is shared by the requests in flight with it but not remembered; 0 turns coalescing off', async () => {
  const driver = new CountingDriver(50, true);
  const { p } = power(driver, 1000);
  const [f1, f2] = await Promise.all([p.handle(req('f1', 'a', 'pxe-boot')), p.handle(req('f2', 'a', 'pxe-boot'))]);
  assert.deepEqual([ids(f1), ids(f2)], [['failed', 'f1', undefined], ['failed', 'f2', 'f1']]);
  const again = await p.handle(req('f3', 'a', 'pxe-boot'));
  assert.deepEqual(ids(again), ['completed', 'f3', undefined], 'after a failure the next request acts');
  assert.equal(driver.ops.length, 2);

  const off = new CountingDriver(20);
  const { p: q } = power(off, 0);
  await Promise.all([q.handle(req('x1', 'a', 'pxe-boot')), q.handle(req('x2', 'a', 'pxe-boot'))]);
  assert.equal(off.ops.length, 2);
});
