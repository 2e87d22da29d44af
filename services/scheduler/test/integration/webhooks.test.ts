import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Events, type CloudEvent, type Deployment, type JobCompleted, type NodeStateChanged } from '@swarmboot/contracts';
import { ImageCatalog } from '@swarmboot/kit';
import { waitFor } from '@swarmboot/testkit';
import { WEBHOOK_EVENTS } from '../../src/domain/webhooks.js';
import { TEST_IMAGE as IMAGE, startScheduler } from './harness.js';

/** One POST the receiver got, and what it answered. */
interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

/** A receiver's own check of a Standard Webhooks signature: HMAC-SHA256 over `id.timestamp.body` with the secret's key. */
function signatureValid(secret: string, r: Received): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${String(r.headers['webhook-id'])}.${String(r.headers['webhook-timestamp'])}.${r.body}`).digest('base64');
  return String(r.headers['webhook-signature'])
    .split(' ')
    .some((s) => s === `v1,${expected}`);
}

test('webhooks: a deployment’s events reach real HTTP receivers as signed CloudEvents; 5xx retried, 4xx not, filters kept', async (t) => {
  const received: Received[] = [];
  // /flaky answers 500 to the first two attempts of each event, then 200
  const flakyAttempts = new Map<string, number>();
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      const id = String(req.headers['webhook-id']);
      let status = 200;
      if (path === '/flaky') {
        const n = (flakyAttempts.get(id) ?? 0) + 1;
        flakyAttempts.set(id, n);
        status = n <= 2 ? 500 : 200;
      } else if (path === '/reject') status = 400;
      else if (path === '/down') status = 503;
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
  const at = (path: string) => `http://127.0.0.1:${(receiver.address() as AddressInfo).port}${path}`;

  const secrets = { all: `whsec_${randomBytes(32).toString('base64')}`, jobs: `whsec_${randomBytes(24).toString('base64')}` };
  const jobOnly = ['swarmboot.job.completed'];
  const { bus, redis, registry, json } = await startScheduler(t, {
    SWARMBOOT_SCHEDULER_WEBHOOKS: JSON.stringify([
      { name: 'all', url: at('/all'), secret: secrets.all },
      { name: 'flaky', url: at('/flaky'), secret: secrets.jobs, types: jobOnly },
      { name: 'reject', url: at('/reject'), secret: secrets.jobs, types: jobOnly },
      { name: 'down', url: at('/down'), secret: secrets.jobs, types: jobOnly },
    ]),
    SWARMBOOT_SCHEDULER_WEBHOOK_ATTEMPTS: '4',
    SWARMBOOT_SCHEDULER_WEBHOOK_BACKOFF_MS: '20',
    SWARMBOOT_SCHEDULER_WEBHOOK_BACKOFF_CAP_MS: '200',
  });

  // what the scheduler published on NATS, to compare the deliveries with
  const published: CloudEvent<unknown>[] = [];
  const unsub = WEBHOOK_EVENTS.map((def) => bus.subscribe(def, (_d, e) => published.push(e)));
  t.after(() => unsub.forEach((u) => u()));
  await bus.nc.flush();

  // a deployment of two emulated nodes: one installs, one fails
  await new ImageCatalog(redis).put(IMAGE);
  for (const [id, mac] of [['w1', '52:54:00:bb:00:01'], ['w2', '52:54:00:bb:00:02']] as const) assert.equal((await json('POST', '/v1/nodes', { id, mac })).status, 201);
  const dep = await json<Deployment>('POST', '/v1/deployments', { image: IMAGE.name, nodes: ['w1', 'w2'], target: 'emulated' });
  assert.equal(dep.status, 201);
  const deploymentId = dep.body.id;
  // the nodes PXE-boot: a lease, then the boot loader over TFTP (the events dhcp and tftp publish)
  for (const [i, mac] of ['52:54:00:bb:00:01', '52:54:00:bb:00:02'].entries()) {
    const ip = `127.78.0.${11 + i}`;
    await bus.publish(Events.leaseGranted, { chaddr: mac, yiaddr: ip, giaddr: '127.78.0.1', xid: 0x100 + i, leaseSeconds: 600 });
    await waitFor(`${mac} in dhcp`, async () => (await json<{ state: string }>('GET', `/v1/nodes/w${i + 1}`)).body.state === 'dhcp');
    await bus.publish(Events.tftpTransferCompleted, { transferId: `t${i}`, clientAddress: ip, clientPort: 2070, file: 'ipxe.efi', bytes: 1000, durationMs: 5, blksize: 1432, windowsize: 1, retransmissions: 0 });
    await waitFor(`${mac} booting`, async () => (await json<{ state: string }>('GET', `/v1/nodes/w${i + 1}`)).body.state === 'booting');
  }
  const report = (id: string, body: object) => json('POST', `/v1/nodes/${id}/report`, { deploymentId, ...body });
  for (const stage of ['booted', 'verifying', 'installed']) assert.equal((await report('w1', { stage })).status, 200);
  for (const body of [{ stage: 'booted' }, { stage: 'failed', reason: 'DISK_NOT_FOUND: no disk' }]) assert.equal((await report('w2', body)).status, 200);
  const job = await waitFor('jobCompleted on NATS', () => published.find((e) => e.type === Events.jobCompleted.type));

  await t.test('every published event reaches the unfiltered webhook once, as a structured-mode CloudEvent with a valid signature', async () => {
    const all = await waitFor('every event at /all', () => {
      const got = received.filter((r) => r.path === '/all');
      return got.length >= published.length && got;
    });
    assert.deepEqual(all.map((r) => r.headers['webhook-id']).sort(), published.map((e) => e.id).sort(), 'each event once, the webhook-id its CloudEvents id');
    for (const r of all) {
      assert.equal(r.headers['content-type'], 'application/cloudevents+json; charset=utf-8');
      assert.ok(signatureValid(secrets.all, r), `signature of ${String(r.headers['webhook-id'])}`);
      assert.ok(!signatureValid(secrets.jobs, r), 'signed with this webhook’s own secret');
      assert.ok(Math.abs(Number(r.headers['webhook-timestamp']) - Date.now() / 1000) < 60, 'timestamp: now, in seconds');
      const event = JSON.parse(r.body) as CloudEvent<unknown>;
      assert.deepEqual(event, published.find((e) => e.id === event.id), 'the body is the event as published: attributes and data');
    }
    const events = all.map((r) => JSON.parse(r.body) as CloudEvent<NodeStateChanged | JobCompleted>);
    const w2 = events.filter((e) => e.type === 'swarmboot.node.state' && e.subject === 'w2').map((e) => e.data as NodeStateChanged);
    assert.equal(w2.at(-1)?.to, 'failed');
    assert.equal(w2.at(-1)?.reason, 'DISK_NOT_FOUND: no disk');
    const completed = events.find((e) => e.type === 'swarmboot.job.completed');
    assert.equal(completed?.subject, undefined, 'the job event has no subject; node-state events carry the node id');
    assert.deepEqual([(completed?.data as JobCompleted).installed, (completed?.data as JobCompleted).failed], [1, 1]);
  });

  await t.test('a receiver that answers 500 twice gets the event on the third attempt, each attempt signed', async () => {
    const flaky = await waitFor('the third attempt at /flaky', () => {
      const got = received.filter((r) => r.path === '/flaky');
      return got.some((r) => r.status === 200) && got;
    });
    assert.deepEqual(flaky.map((r) => [r.headers['webhook-id'], r.status]), [
      [job.id, 500],
      [job.id, 500],
      [job.id, 200],
    ]);
    for (const r of flaky) assert.ok(signatureValid(secrets.jobs, r));
    assert.deepEqual(await deliveries('flaky'), { delivered: 1 });
    assert.equal(await metric('swarmboot_scheduler_webhook_retries_total', { webhook: 'flaky' }), 2);
  });

  await t.test('a 4xx is not retried; a receiver that stays down gets the bounded attempts, then the event is dropped and counted', async () => {
    await waitFor('the delivery to /down to be dropped', async () => (await deliveries('down')).exhausted === 1);
    assert.equal(received.filter((r) => r.path === '/down').length, 4, 'SWARMBOOT_SCHEDULER_WEBHOOK_ATTEMPTS attempts');
    // a retry of /reject's 400 would come within the backoff cap (200 ms): give it more than that
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(
      received.filter((r) => r.path === '/reject').map((r) => [r.headers['webhook-id'], r.status]),
      [[job.id, 400]],
    );
    assert.deepEqual(await deliveries('reject'), { rejected: 1 });
  });

  await t.test('the type filter: job-only webhooks got no node-state event', () => {
    const filtered = received.filter((r) => r.path !== '/all');
    assert.ok(filtered.length > 0);
    assert.deepEqual([...new Set(filtered.map((r) => (JSON.parse(r.body) as CloudEvent<unknown>).type))], jobOnly);
    assert.ok(published.some((e) => e.type === 'swarmboot.node.state'), 'node-state events were published');
  });

  async function metric(name: string, labels: Record<string, string>): Promise<number | undefined> {
    const m = await registry.getSingleMetric(name)?.get();
    return m?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value;
  }
  /** swarmboot_scheduler_webhook_deliveries_total of one webhook, by outcome */
  async function deliveries(webhook: string): Promise<Record<string, number>> {
    const m = await registry.getSingleMetric('swarmboot_scheduler_webhook_deliveries_total')?.get();
    return Object.fromEntries((m?.values ?? []).filter((v) => v.labels['webhook'] === webhook).map((v) => [String(v.labels['outcome']), v.value]));
  }
});
