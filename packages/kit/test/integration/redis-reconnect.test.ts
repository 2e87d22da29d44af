import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, waitFor } from '@swarmboot/testkit';
import { connectRedis, createLogger } from '../../src/index.js';

/**
 * ioredis ends a client for good when its connector is disconnected while a reconnect is under
 * way (redis/ioredis#1683: Sentinel's `+switch-master` reaching the old connection's failover
 * detector mid-reconnect; bench/faults `sentinel`, seed 411, left one scheduler replica answering
 * 503 for minutes). The race is made here as the failover detector makes it: the connector is
 * disconnected as the client starts reconnecting. A client from connectRedis still answers
 * afterwards. Real redis-server.
 */
test('a reconnect that ioredis aborts is started again: the client answers after it', async (t) => {
  const server = await startRedis();
  const redis = await connectRedis(server.url, createLogger('test', 'fatal'));
  t.after(async () => {
    redis.disconnect();
    await server.stop();
  });
  const connector = (redis as unknown as { connector: { disconnect(): void } }).connector;
  redis.once('connecting', () => connector.disconnect());
  const ended = new Promise<void>((resolve) => redis.once('end', () => resolve())); // (events.once would reject on the 'error' before it)
  redis.disconnect(true); // drop the connection, reconnect
  await ended;
  assert.equal(redis.status, 'end', 'ioredis ended the client (the race happened)');
  await waitFor('the client answers again', async () => (await redis.ping().catch(() => undefined)) === 'PONG', 5000);
});
