import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startNats, startRedis, type Started } from '@swarmboot/testkit';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Events, RedisKeys, Stream } from '@swarmboot/contracts';
import { connectNats, connectRedis, createLogger, EventBus, ImageCatalog } from '../../src/index.js';

let nats: Started;
let redisSrv: Started;
const log = createLogger('test', 'warn');

before(async () => {
  [nats, redisSrv] = await Promise.all([startNats(), startRedis()]);
});
after(async () => {
  await Promise.all([nats?.stop(), redisSrv?.stop()]);
});

test('a durable event published before its consumer exists is delivered once, validated', async () => {
  const nc = await connectNats(nats.url, 'bus-test', log);
  const bus = new EventBus(nc, 'test', log);
  const waitFor = async (got: string[], n: number) => {
    const deadline = Date.now() + 5000;
    while (got.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  };
  await bus.publish(Events.nodeStateChanged, { nodeId: 'n-1', from: 'queued', to: 'admitted' }, 'n-1');
  const first: string[] = [];
  const stop = await bus.consume(Events.nodeStateChanged, 'bus-test', async (data, ev) => {
    first.push(`${ev.subject}:${data.from}->${data.to}`);
  });
  await waitFor(first, 1);
  await stop();
  // acknowledged: nothing waits for an ack, so JetStream will not redeliver it after ack_wait
  const info = await (await jetstreamManager(nc)).consumers.info(Stream.name, `bus-test-${Events.nodeStateChanged.type.replace(/\./g, '_')}`);
  assert.equal(info.num_ack_pending, 0);
  // The same durable consumer, resumed after a second event: it gets only that one, so the first
  // was acknowledged and is not delivered again.
  await bus.publish(Events.nodeStateChanged, { nodeId: 'n-2', from: 'admitted', to: 'dhcp' }, 'n-2');
  const resumed: string[] = [];
  const stopResumed = await bus.consume(Events.nodeStateChanged, 'bus-test', async (data, ev) => {
    resumed.push(`${ev.subject}:${data.from}->${data.to}`);
  });
  await waitFor(resumed, 1);
  await new Promise((r) => setTimeout(r, 200));
  await stopResumed();
  assert.deepEqual(first, ['n-1:queued->admitted']);
  assert.deepEqual(resumed, ['n-2:admitted->dhcp']);
  await assert.rejects(bus.publish(Events.nodeStateChanged, { nodeId: 'n-1', from: 'nope', to: 'admitted' } as never, 'n-1'), { code: 'EVENT_INVALID' });
  await nc.drain();
});

test("a durable consumer created with from: 'new' skips the stream's past events, then resumes where it stopped", async () => {
  const nc = await connectNats(nats.url, 'bus-test-new', log);
  const bus = new EventBus(nc, 'test', log);
  const data = (deploymentId: string) => ({ deploymentId, image: 'debian-12', installed: 1, failed: 0, durationMs: 5 });
  const waitFor = async (got: string[], n: number) => {
    const deadline = Date.now() + 5000;
    while (got.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  };
  await bus.publish(Events.jobCompleted, data('dep-before'));
  const got: string[] = [];
  const consume = () => bus.consume(Events.jobCompleted, 'bus-test-new', async (d) => void got.push(d.deploymentId), { from: 'new' });
  let stop = await consume();
  await bus.publish(Events.jobCompleted, data('dep-after'));
  await waitFor(got, 1);
  await stop();
  // published while nobody consumed: the existing consumer resumes at it
  await bus.publish(Events.jobCompleted, data('dep-while-stopped'));
  stop = await consume();
  await waitFor(got, 2);
  await new Promise((r) => setTimeout(r, 200));
  await stop();
  assert.deepEqual(got, ['dep-after', 'dep-while-stopped']);
  await nc.drain();
});

test('consume with concurrency runs that many handlers at once, acknowledges each, and stop waits for the running ones', async () => {
  const nc = await connectNats(nats.url, 'bus-test-concurrency', log);
  const bus = new EventBus(nc, 'test', log);
  const data = (deploymentId: string) => ({ deploymentId, image: 'debian-12', installed: 1, failed: 0, durationMs: 5 });
  let running = 0;
  let most = 0;
  const done: string[] = [];
  const stop = await bus.consume(
    Events.jobCompleted,
    'bus-test-concurrency',
    async (d) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 150));
      running -= 1;
      done.push(d.deploymentId);
    },
    { from: 'new', concurrency: 3 },
  );
  for (let i = 0; i < 7; i++) await bus.publish(Events.jobCompleted, data(`dep-${i}`));
  const deadline = Date.now() + 5000;
  while (done.length < 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await stop();
  assert.equal(most, 3);
  assert.deepEqual([...done].sort(), Array.from({ length: 7 }, (_, i) => `dep-${i}`));
  const info = await (await jetstreamManager(nc)).consumers.info(Stream.name, `bus-test-concurrency-${Events.jobCompleted.type.replace(/\./g, '_')}`);
  assert.equal(info.num_ack_pending, 0);
  await nc.drain();
});

test('an event the stream holds twice (one CloudEvent id) reaches a consumer and a follower once; the copy is acknowledged', async (t) => {
  const nc = await connectNats(nats.url, 'bus-test-copies', log);
  t.after(() => nc.close());
  const bus = new EventBus(nc, 'test', log);
  const consumed: string[] = [];
  const followed: string[] = [];
  const stopConsumer = await bus.consume(Events.jobCompleted, 'bus-test-copies', async (d, e) => void consumed.push(`${e.id} ${d.deploymentId}`), { from: 'new' });
  const stopFollower = await bus.follow(Events.jobCompleted, async (d, e) => void followed.push(`${e.id} ${d.deploymentId}`));
  // What a stream leader change can leave (nats-cluster test): the same event stored twice. Sent
  // raw, without a message ID, so the stream's duplicate window keeps both.
  const event = (id: string, deploymentId: string) =>
    JSON.stringify({ specversion: '1.0', id, source: 'test', type: Events.jobCompleted.type, time: new Date().toISOString(), datacontenttype: 'application/json', data: { deploymentId, image: 'debian-12', installed: 1, failed: 0, durationMs: 5 } });
  const js = jetstream(nc);
  for (const [id, dep] of [['copy-1', 'dep-a'], ['copy-1', 'dep-a'], ['copy-2', 'dep-b']] as const) await js.publish(Events.jobCompleted.subject, event(id, dep));
  const deadline = Date.now() + 5000;
  while ((consumed.length < 2 || followed.length < 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200)); // room for a copy to arrive
  await Promise.all([stopConsumer(), stopFollower()]);
  assert.deepEqual(consumed, ['copy-1 dep-a', 'copy-2 dep-b']);
  assert.deepEqual(followed, ['copy-1 dep-a', 'copy-2 dep-b']);
  const info = await (await jetstreamManager(nc)).consumers.info(Stream.name, `bus-test-copies-${Events.jobCompleted.type.replace(/\./g, '_')}`);
  assert.deepEqual([info.delivered.stream_seq - info.ack_floor.stream_seq, info.num_ack_pending], [0, 0], 'every message, the copy included, acknowledged');
});

test('the image catalog round-trips a record and indexes its infohash', async () => {
  const redis = await connectRedis(redisSrv.url, log);
  const catalog = new ImageCatalog(redis);
  const rec = {
    name: 'img', file: 'img.tar', format: 'rootfs-tar' as const, bootable: false, size: 10, sha256: 'a'.repeat(64), infoHash: 'b'.repeat(40), pieceLength: 16384,
    torrentUrl: 'http://x/t', webSeedUrl: 'http://x/w', addedAt: new Date(0).toISOString(),
  };
  await catalog.put(rec);
  assert.deepEqual(await catalog.get('img'), rec);
  assert.equal(await catalog.nameByInfoHash('B'.repeat(40)), 'img');
  assert.deepEqual((await catalog.list()).map((r) => r.name), ['img']);
  await redis.quit();
});

test('putting a record again unregisters the replaced infohash, unless another image holds it now', async () => {
  const redis = await connectRedis(redisSrv.url, log);
  const catalog = new ImageCatalog(redis);
  const rec = (name: string, infoHash: string) => ({
    name, file: `${name}.tar`, format: 'rootfs-tar' as const, bootable: false, size: 10, sha256: 'a'.repeat(64), infoHash, pieceLength: 16384,
    torrentUrl: 'http://x/t', webSeedUrl: 'http://x/w', addedAt: new Date(0).toISOString(),
  });
  await catalog.put(rec('x', 'c'.repeat(40)));
  await catalog.put(rec('x', 'd'.repeat(40)));
  assert.equal(await catalog.nameByInfoHash('c'.repeat(40)), undefined, 'the replaced swarm is no longer admitted');
  assert.equal(await catalog.nameByInfoHash('d'.repeat(40)), 'x');

  // the same bytes uploaded as y: replacing x must not unregister y's swarm
  await catalog.put(rec('y', 'd'.repeat(40)));
  await catalog.put(rec('x', 'e'.repeat(40)));
  assert.equal(await catalog.nameByInfoHash('d'.repeat(40)), 'y');
  assert.equal((await catalog.get('x'))?.infoHash, 'e'.repeat(40));

  // a record that is not JSON any more is replaced all the same
  await redis.hset(RedisKeys.image('x'), 'json', '{not json');
  await catalog.put(rec('x', 'f'.repeat(40)));
  assert.equal(await catalog.nameByInfoHash('f'.repeat(40)), 'x');
  assert.equal(await catalog.nameByInfoHash('e'.repeat(40)), 'x', 'unreadable: its infohash cannot be known, so it stays');
  await redis.quit();
});

test('follow gives every follower every event from its start, in order, without a durable consumer', async () => {
  const nc = await connectNats(nats.url, 'bus-test-follow', log);
  const bus = new EventBus(nc, 'test', log);
  const data = (deploymentId: string) => ({ deploymentId, image: 'debian-12', installed: 1, failed: 0, durationMs: 5 });
  await bus.publish(Events.jobCompleted, data('follow-before'));
  const a: string[] = [];
  const b: string[] = [];
  const stopA = await bus.follow(Events.jobCompleted, async (d) => void a.push(d.deploymentId));
  const stopB = await bus.follow(Events.jobCompleted, async (d) => {
    if (d.deploymentId === 'follow-1') throw new Error('a failing handler does not stop the follower');
    b.push(d.deploymentId);
  });
  for (let i = 0; i < 3; i++) await bus.publish(Events.jobCompleted, data(`follow-${i}`));
  const deadline = Date.now() + 5000;
  while ((a.length < 3 || b.length < 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await Promise.all([stopA(), stopB()]);
  assert.deepEqual(a, ['follow-0', 'follow-1', 'follow-2'], "both see each event published after they started, none before; shared work would split them");
  assert.deepEqual(b, ['follow-0', 'follow-2']);
  const consumers = await (await jetstreamManager(nc)).consumers.list(Stream.name).next();
  assert.ok(!consumers.some((c) => c.config.durable_name?.includes('follow')), 'no durable consumer is left behind');
  await nc.drain();
});

test('the catalog keeps an image’s .torrent with its record: replaced together, added later only to the same version', async () => {
  const redis = await connectRedis(redisSrv.url, log);
  const catalog = new ImageCatalog(redis);
  const rec = (infoHash: string) => ({
    name: 'tor', file: 'tor.img', format: 'raw-disk' as const, bootable: false, size: 10, sha256: 'a'.repeat(64), infoHash, pieceLength: 16384,
    torrentUrl: 'http://x/t', webSeedUrl: 'http://x/w', addedAt: new Date(0).toISOString(),
  });
  const bytes = Buffer.from([0x64, 0x00, 0xff, 0x65]); // not UTF-8: stored as bytes
  await catalog.put(rec('1'.repeat(40)), bytes);
  const entry = await catalog.entry('tor');
  assert.ok(entry?.torrent?.equals(bytes));
  assert.equal(entry?.record.infoHash, '1'.repeat(40));

  await catalog.put(rec('2'.repeat(40)));
  assert.equal((await catalog.entry('tor'))?.torrent, undefined, "the replaced version's .torrent is gone");
  assert.equal(await catalog.putTorrent('tor', '1'.repeat(40), bytes), false, 'an older copy does not pair its .torrent with the new record');
  assert.equal(await catalog.putTorrent('tor', '2'.repeat(40), bytes), true);
  assert.ok((await catalog.entry('tor'))?.torrent?.equals(bytes));
  assert.equal(await catalog.entry('absent'), undefined);
  await redis.quit();
});

test('publishSerialized: the envelope around the caller\'s JSON is a CloudEvents 1.0 event as publish writes it; the data is still checked', async () => {
  const nc = await connectNats(nats.url, 'bus-test-serialized', log);
  const bus = new EventBus(nc, 'test-src "quoted"', log);
  const raw: string[] = [];
  const sub = nc.subscribe('swarmboot.log.lines.>', { callback: (_err, m) => void raw.push(m.string()) });
  await nc.flush();
  const line = { nodeId: 'n-"1"', received: '2026-12-02T00:00:00.000Z', source: '10.0.0.9:514', format: 'rfc5424' as const, facility: 1, severity: 6, message: 'a "quoted" line\n' };
  const data = { nodeId: line.nodeId, lines: [line] };
  await bus.publishSerialized(Events.logLines, data, JSON.stringify(data), line.nodeId);
  await bus.publish(Events.logLines, data, line.nodeId);
  await nc.flush();
  const deadline = Date.now() + 5000;
  while (raw.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(raw.length, 2);
  const [a, b] = raw.map((r) => JSON.parse(r) as Record<string, unknown>);
  for (const ev of [a, b]) {
    assert.deepEqual(Object.keys(ev ?? {}), ['specversion', 'id', 'source', 'type', 'time', 'datacontenttype', 'data', 'subject']);
    assert.equal(ev?.['specversion'], '1.0');
    assert.equal(ev?.['source'], 'test-src "quoted"');
    assert.equal(ev?.['type'], 'swarmboot.log.lines');
    assert.equal(ev?.['subject'], 'n-"1"');
    assert.deepEqual(ev?.['data'], data);
    assert.ok(!Number.isNaN(Date.parse(String(ev?.['time']))));
  }
  assert.notEqual(a?.['id'], b?.['id']);
  await assert.rejects(bus.publishSerialized(Events.logLines, { nodeId: 'n-1', lines: [] }, '{"nodeId":"n-1","lines":[]}', 'n-1'), { code: 'EVENT_INVALID' });
  sub.unsubscribe();
  await nc.drain();
});
