import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { Events, RedisKeys, Stream, type Deployment, type LogLine, type NodeTimeline, type TimelineEntry } from '@swarmboot/contracts';
import { ImageCatalog } from '@swarmboot/kit';
import { waitFor } from '@swarmboot/testkit';
import { TEST_IMAGE, startScheduler } from './harness.js';
import { TIMELINE_CONSUMER } from '../../src/adapters/timeline-recorder.js';

const MAC = '52:54:00:cc:00:01';
const IP = '10.77.0.21';

/** An entry as `source:what`, for comparing sequences. */
function label(e: TimelineEntry): string {
  switch (e.source) {
    case 'state':
      return `state:${e.to}`;
    case 'dhcp':
      return `dhcp:${e.lease.yiaddr}`;
    case 'tftp':
      return `tftp:${e.outcome}:${e.transfer.file}`;
    case 'progress':
      return 'progress';
    case 'failure':
      return `failure:${e.failure.code}`;
    case 'power':
      return `power:${e.outcome}:${e.power.action}`;
    case 'log':
      return `log:${typeof e.line === 'string' ? e.line : e.line.message}`;
  }
}

/**
 * The flight recorder against real NATS and Redis: a node's lease and transfers published on the
 * bus as dhcp and tftp publish them, its state changes driven through the API, its agent's
 * progress, a log line written as the log sink writes it and a failure classified as the sink
 * publishes it — one timeline, in time order; replayed events (consumer recreated) add nothing.
 */
test('a node timeline merges leases, transfers, states, progress, failures and log lines in time order', async (t) => {
  const { json, bus, redis, registry, startReplica } = await startScheduler(t, { SWARMBOOT_SCHEDULER_TIMELINE_PROGRESS_SECONDS: '1' });
  await new ImageCatalog(redis).put(TEST_IMAGE);
  assert.equal((await json('POST', '/v1/nodes', { id: 't1', mac: MAC })).status, 201);
  const dep = await json<Deployment>('POST', '/v1/deployments', { image: TEST_IMAGE.name, nodes: ['t1'], target: 'emulated' });
  assert.equal(dep.status, 201);
  const deploymentId = dep.body.id;
  const timeline = async (q = '') => (await json<NodeTimeline>('GET', `/v1/nodes/t1/timeline${q}`)).body;
  const has = (what: string) => async () => (await timeline()).entries.some((e) => label(e) === what);
  const report = (body: object) => json('POST', '/v1/nodes/t1/report', { deploymentId, ...body });

  await bus.publish(Events.leaseGranted, { chaddr: MAC, yiaddr: IP, giaddr: '10.77.0.1', xid: 7, leaseSeconds: 3600, bootFile: 'ipxe.efi' });
  await waitFor('the lease recorded and applied', async () => (await has(`dhcp:${IP}`)()) && (await has('state:dhcp')()));
  const transfer = { transferId: 'x1', clientAddress: IP, clientPort: 2070, file: 'ipxe.efi', bytes: 1024, durationMs: 12, blksize: 1468, windowsize: 8, retransmissions: 0 };
  await bus.publish(Events.tftpTransferFailed, { ...transfer, transferId: 'x0', bytes: 0, error: 'timeout' });
  await waitFor('the failed transfer recorded', has('tftp:failed:ipxe.efi'));
  await bus.publish(Events.tftpTransferCompleted, transfer);
  await waitFor('the transfer recorded and applied', async () => (await has('tftp:completed:ipxe.efi')()) && (await has('state:booting')()));

  const line: LogLine = { nodeId: 't1', received: new Date().toISOString(), source: `${IP}:514`, format: 'netconsole', facility: 0, severity: 6, message: 'Linux version 6.1.0-18-amd64' };
  await redis.xadd(RedisKeys.nodeLog('t1'), 'MAXLEN', '~', '20000', '*', 'json', JSON.stringify(line));
  assert.equal((await report({ stage: 'booted' })).status, 200);
  // three reports within the progress interval: one entry
  for (const bytes of [100, 200, 300]) assert.equal((await report({ stage: 'downloading', bytes, total: 10_000 })).status, 200);
  await waitFor('a progress entry', has('progress'));
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal((await report({ stage: 'downloading', bytes: 5000, total: 10_000 })).status, 200);
  await waitFor('a second progress entry', async () => (await timeline('?sources=progress')).entries.length === 2);
  await bus.publish(
    Events.nodeFailureClassified,
    { nodeId: 't1', deploymentId, attempt: 0, ruleId: 'io-error', code: 'DISK_IO_ERROR', severity: 'error', description: 'I/O error', line: 'blk_update_request: I/O error, dev sda, sector 0', format: 'netconsole', received: new Date().toISOString() },
    't1',
  );
  await waitFor('the failure recorded, and the node failed by it', async () => (await has('failure:DISK_IO_ERROR')()) && (await has('state:failed')()));
  // a power request for the node and the power service's answer, as they are published
  await bus.publish(Events.powerRequested, { requestId: 'p1', nodeId: 't1', mac: MAC, action: 'pxe-boot', reason: 'BOOT_TIMEOUT: test' });
  await waitFor('the power request recorded', has('power:requested:pxe-boot'));
  await bus.publish(Events.powerCompleted, { requestId: 'p1', nodeId: 't1', action: 'pxe-boot', driver: 'redfish', attempts: 1, durationMs: 420, powerState: 'On' }, 't1');
  await waitFor('the power result recorded', has('power:completed:pxe-boot'));
  assert.equal((await report({ stage: 'failed', reason: 'DISK_IO_ERROR: sda' })).status, 200);

  const expected = [
    'state:registered',
    'state:queued',
    'state:admitted',
    `dhcp:${IP}`,
    'state:dhcp',
    'tftp:failed:ipxe.efi',
    'tftp:completed:ipxe.efi',
    'state:booting',
    'log:Linux version 6.1.0-18-amd64',
    'state:installing',
    'progress',
    'progress',
    'failure:DISK_IO_ERROR',
    // the classified failure fails the node (the scheduler's consumer), before anything after it
    'state:failed',
    'power:requested:pxe-boot',
    'power:completed:pxe-boot',
  ];

  await t.test('every source, one list, in time order', async () => {
    const tl = await timeline();
    assert.deepEqual(tl.entries.map(label), expected);
    const times = tl.entries.map((e) => Date.parse(e.at));
    assert.ok(times.every((ms, i) => i === 0 || ms >= times[i - 1]!), 'times never go back');
    assert.equal(tl.truncated, false);
    const progress = tl.entries.filter((e) => e.source === 'progress');
    assert.deepEqual(progress.map((p) => p.bytes), [100, 5000], 'the first report of each interval');
    assert.ok(progress[1]!.rate! > 0, 'the second entry has the rate since the first');
    assert.equal(new Set(tl.entries.map((e) => e.id)).size, tl.entries.length);
  });

  await t.test('sources, since and limit filter', async () => {
    const some = await timeline('?sources=dhcp,tftp');
    assert.deepEqual(some.entries.map(label), [`dhcp:${IP}`, 'tftp:failed:ipxe.efi', 'tftp:completed:ipxe.efi']);
    const all = await timeline();
    const booting = all.entries.find((e) => label(e) === 'state:booting')!;
    const since = await timeline(`?since=${encodeURIComponent(booting.at)}&sources=state`);
    assert.deepEqual(since.entries.map(label), ['state:booting', 'state:installing', 'state:failed']);
    const last = await timeline('?limit=3');
    assert.deepEqual(last.entries.map(label), expected.slice(-3));
    assert.equal(last.truncated, true);
    const bad = await json<{ code: string }>('GET', '/v1/nodes/t1/timeline?sources=dhcp,bogus');
    assert.deepEqual([bad.status, bad.body.code], [400, 'VALIDATION']);
    const ghost = await json<{ code: string }>('GET', '/v1/nodes/ghost/timeline');
    assert.deepEqual([ghost.status, ghost.body.code], [404, 'NODE_NOT_FOUND']);
  });

  await t.test('a lease of an unregistered MAC is counted, not recorded', async () => {
    const counted = async (outcome: string) => {
      const m = await registry.getSingleMetric('swarmboot_scheduler_timeline_events_total')?.get();
      return m?.values.find((v) => v.labels.source === 'dhcp' && v.labels.outcome === outcome)?.value ?? 0;
    };
    assert.equal(await counted('recorded'), 1, 'the lease of t1');
    await bus.publish(Events.leaseGranted, { chaddr: '52:54:00:cc:00:99', yiaddr: '10.77.0.99', giaddr: '10.77.0.1', xid: 8, leaseSeconds: 3600 });
    await waitFor('the stranger counted', async () => (await counted('unknown_node')) === 1);
    assert.deepEqual(await redis.keys(RedisKeys.nodeEvents('*')), [RedisKeys.nodeEvents('t1')]);
  });

  await t.test('events delivered again (the recorder consumer recreated, replaying the stream) add no entries', async () => {
    const before = await timeline();
    const jsm = await jetstreamManager(bus.nc);
    const names: string[] = [];
    for await (const c of jsm.consumers.list(Stream.name)) if (c.name.startsWith(`${TIMELINE_CONSUMER}-`)) names.push(c.name);
    assert.equal(names.length, 7, 'lease, transfer completed, transfer failed, failure classified, power requested, completed, failed');
    for (const n of names) await jsm.consumers.delete(Stream.name, n);
    // a replica's recorder creates them again, delivering every event of the stream from its start
    await startReplica();
    await waitFor('the replay delivered', async () => {
      let pending = 0;
      for (const n of names) {
        const info = await jsm.consumers.info(Stream.name, n).catch(() => undefined);
        if (!info || info.delivered.stream_seq === 0) return false;
        pending += info.num_pending + info.num_ack_pending;
      }
      return pending === 0;
    });
    assert.deepEqual((await timeline()).entries, before.entries);
  });
});
