import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CloudEvent } from '@swarmboot/contracts';
import { Registry, createLogger } from '@swarmboot/kit';
import { WebhookDispatcher } from '../src/index.js';

const jobEvent = (): CloudEvent<unknown> => ({
  specversion: '1.0',
  id: randomUUID(),
  source: 'swarmboot/scheduler',
  type: 'swarmboot.job.completed',
  time: new Date().toISOString(),
  datacontenttype: 'application/json',
  data: {},
});

test('enqueue never waits on a receiver that hangs: the bounded queue overflows (counted), close() drops the rest (counted)', async (t) => {
  // a receiver that takes requests and never answers
  const held: ServerResponse[] = [];
  const receiver = createServer((_req, res) => held.push(res));
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    receiver.closeAllConnections();
    receiver.close();
  });
  const registry = new Registry();
  const dispatcher = new WebhookDispatcher({
    targets: [{ name: 'stuck', url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`, secret: `whsec_${randomBytes(32).toString('base64')}` }],
    settings: { attempts: 3, backoff: { baseMs: 10, capMs: 10 }, timeoutMs: 60_000, concurrency: 1, queueLength: 2 },
    log: createLogger('webhook-test', 'error'),
    registry,
  });
  const outcomes = async () => {
    const m = await registry.getSingleMetric('swarmboot_scheduler_webhook_deliveries_total')?.get();
    return Object.fromEntries((m?.values ?? []).map((v) => [String(v.labels['outcome']), v.value]));
  };

  // enqueue is synchronous (no promise to wait on): the five calls are done while the receiver
  // still holds the first request (a wall-clock bound here failed at load 72)
  for (let i = 0; i < 5; i++) assert.equal(dispatcher.enqueue(jobEvent()), undefined);
  // one in flight, two waiting, two over the bound
  assert.deepEqual(await outcomes(), { overflow: 2 });
  const queued = await registry.getSingleMetric('swarmboot_scheduler_webhook_queued')?.get();
  assert.equal(queued?.values[0]?.value, 3);

  await dispatcher.close();
  assert.deepEqual(await outcomes(), { overflow: 2, shutdown: 3 }, 'the one in flight and the two waiting');
  assert.ok(held.length <= 1, 'nothing but the first event was sent');
});
