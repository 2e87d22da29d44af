import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startNats, startRedis, type Started } from '@swarmboot/testkit';
import { Events } from '@swarmboot/contracts';
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
  await bus.publish(Events.nodeStateChanged, { nodeId: 'n-1', from: 'queued', to: 'admitted' }, 'n-1');
  const got: string[] = [];
  const stop = await bus.consume(Events.nodeStateChanged, 'bus-test', async (data, ev) => {
    got.push(`${ev.subject}:${data.from}->${data.to}`);
  });
  const deadline = Date.now() + 5000;
  while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await stop();
  assert.deepEqual(got, ['n-1:queued->admitted']);
  await assert.rejects(bus.publish(Events.nodeStateChanged, { nodeId: 'n-1', from: 'nope', to: 'admitted' } as never, 'n-1'), { code: 'EVENT_INVALID' });
  await nc.drain();
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
