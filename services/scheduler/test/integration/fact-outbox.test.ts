import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Registry, createLogger, type EventBus } from '@swarmboot/kit';
import { RedisKeys, Stream, type NodeState, type NodeTimeline } from '@swarmboot/contracts';
import { waitFor } from '@swarmboot/testkit';
import { FactOutbox } from '../../src/adapters/fact-outbox.js';
import { SchedulerStore } from '../../src/adapters/store.js';
import { startScheduler } from './harness.js';

/** Every node-state fact in the stream, oldest first: the subject's node, the CloudEvent and its data. */
async function storedFacts(bus: EventBus): Promise<{ id: string; time: string; nodeId: string; from: NodeState; to: NodeState }[]> {
  const info = await (await jetstreamManager(bus.nc)).streams.info(Stream.name);
  const facts = [];
  if (info.state.messages === 0) return [];
  const consumer = await jetstream(bus.nc).consumers.get(Stream.name, { opt_start_seq: info.state.first_seq });
  for await (const m of await consumer.fetch({ max_messages: info.state.last_seq - info.state.first_seq + 1, expires: 5000 })) {
    if (m.subject.startsWith('swarmboot.node.state.')) {
      const e = m.json<{ id: string; time: string; data: { nodeId: string; from: NodeState; to: NodeState } }>();
      facts.push({ id: e.id, time: e.time, ...e.data });
    }
    if (m.seq >= info.state.last_seq) break;
  }
  return facts;
}

/**
 * A change written by its script while nobody published its fact — the scheduler answered 503
 * after a failed WAIT, or died between the script and the publish — is published by the outbox
 * relay of any replica, with the change's own time; and two relays publishing the same outbox at
 * once store each fact once, each node's in order (the JetStream duplicate window, by the facts'
 * ids). Real Redis and NATS; the changes are made through the store, as the lifecycle makes them,
 * without its flush.
 */
test('the outbox relay publishes facts nobody published, once each and in order per node', async (t) => {
  const { json, bus, redis, startReplica } = await startScheduler(t, {});
  const ids = ['o1', 'o2', 'o3'];
  for (const [i, id] of ids.entries()) assert.equal((await json('POST', '/v1/nodes', { id, mac: `52:54:00:0f:00:0${i}` })).status, 201);
  const store = new SchedulerStore(redis);

  // one change with no flush: the app's relay (every second) publishes it
  await store.casTransition({ id: 'o1', state: 'registered' }, 'queued');
  await waitFor('the relay published the left-behind fact', async () => (await storedFacts(bus)).length === 1, 10_000);
  const changes = async (id: string) =>
    (await json<NodeTimeline>('GET', `/v1/nodes/${id}/timeline?sources=state`)).body.entries.flatMap((e) => (e.source === 'state' && e.from !== undefined ? [{ change: `${e.from}→${e.to}`, at: e.at }] : []));
  const [fact] = await storedFacts(bus);
  assert.deepEqual(fact && { nodeId: fact.nodeId, change: `${fact.from}→${fact.to}`, at: fact.time }, { nodeId: 'o1', ...(await changes('o1'))[0] }, 'the fact is the timeline entry, at the same time');
  assert.equal(await redis.xlen(RedisKeys.stateFactOutbox), 0, 'a published fact leaves the outbox');

  // many changes, then two relays at once (this process's and a second replica's store)
  const chain: NodeState[] = ['registered', 'queued', 'admitted', 'dhcp', 'booting', 'installing'];
  for (const id of ids) {
    const start = id === 'o1' ? 1 : 0;
    for (let i = start; i + 1 < chain.length; i++) await store.casTransition({ id, state: chain[i]! }, chain[i + 1]!);
  }
  const written = await redis.xlen(RedisKeys.stateFactOutbox);
  await startReplica();
  const log = createLogger('outbox-test', 'silent');
  const relays = [new FactOutbox(store, bus, log, new Registry()), new FactOutbox(new SchedulerStore(redis), bus, log, new Registry())];
  await Promise.all(relays.map((r) => r.flush()));
  assert.equal(await redis.xlen(RedisKeys.stateFactOutbox), 0);

  const facts = await storedFacts(bus);
  assert.equal(new Set(facts.map((f) => f.id)).size, facts.length, 'no fact stored twice');
  assert.equal(facts.length, 1 + written);
  for (const id of ids) {
    const mine = facts.filter((f) => f.nodeId === id);
    assert.deepEqual(
      mine.map((f) => `${f.from}→${f.to}`),
      (await changes(id)).map((c) => c.change),
      `${id}: the facts are its timeline's changes, in order`,
    );
  }
});
