import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { ImageCatalog, Registry, createLogger, type EventBus } from '@swarmboot/kit';
import { Events, RedisKeys, Stream, type Deployment, type NodeState, type NodeTimeline } from '@swarmboot/contracts';
import { waitFor } from '@swarmboot/testkit';
import { FactOutbox } from '../../src/adapters/fact-outbox.js';
import { SchedulerStore } from '../../src/adapters/store.js';
import { TEST_IMAGE, startScheduler } from './harness.js';

/** Every event in the stream, oldest first: its subject, CloudEvent id and time, and data. */
async function storedEvents(bus: EventBus): Promise<{ subject: string; id: string; time: string; data: Record<string, unknown> }[]> {
  const info = await (await jetstreamManager(bus.nc)).streams.info(Stream.name);
  const events = [];
  if (info.state.messages === 0) return [];
  const consumer = await jetstream(bus.nc).consumers.get(Stream.name, { opt_start_seq: info.state.first_seq });
  for await (const m of await consumer.fetch({ max_messages: info.state.last_seq - info.state.first_seq + 1, expires: 5000 })) {
    const e = m.json<{ id: string; time: string; data: Record<string, unknown> }>();
    events.push({ subject: m.subject, id: e.id, time: e.time, data: e.data });
    if (m.seq >= info.state.last_seq) break;
  }
  return events;
}

/** The node-state facts of the stream, oldest first. */
async function storedFacts(bus: EventBus): Promise<{ id: string; time: string; nodeId: string; from: NodeState; to: NodeState }[]> {
  return (await storedEvents(bus)).filter((e) => e.subject.startsWith('swarmboot.node.state.')).map((e) => ({ id: e.id, time: e.time, ...(e.data as { nodeId: string; from: NodeState; to: NodeState }) }));
}

/**
 * A change written by its script while nobody published its fact — the scheduler answered 503
 * after a failed WAIT, or died between the script and the publish — is published by the outbox
 * relay of any replica, with the change's own time; and two relays flushing the same outbox at
 * once store each fact once, each node's in order (the JetStream duplicate window, by the facts'
 * ids), and each is published once: core-NATS subscribers, which JetStream's duplicate window
 * does not cover, see no copy (the relay lease). Real Redis and NATS; the changes are made through the store, as the lifecycle makes them,
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
  assert.equal(await redis.xlen(RedisKeys.factOutbox), 0, 'a published fact leaves the outbox');

  // many changes, then two relays at once (this process's and a second replica's store)
  const seen = new Map<string, number>();
  const unsubscribe = bus.subscribe(Events.nodeStateChanged, (_d, e) => seen.set(e.id, (seen.get(e.id) ?? 0) + 1));
  await bus.nc.flush();
  const chain: NodeState[] = ['registered', 'queued', 'admitted', 'dhcp', 'booting', 'installing'];
  for (const id of ids) {
    const start = id === 'o1' ? 1 : 0;
    for (let i = start; i + 1 < chain.length; i++) await store.casTransition({ id, state: chain[i]! }, chain[i + 1]!);
  }
  const written = await redis.xlen(RedisKeys.factOutbox);
  await startReplica();
  const log = createLogger('outbox-test', 'silent');
  const relays = [new FactOutbox(store, bus, log, new Registry()), new FactOutbox(new SchedulerStore(redis), bus, log, new Registry())];
  await Promise.all(relays.map((r) => r.flush()));
  assert.equal(await redis.xlen(RedisKeys.factOutbox), 0);
  await bus.nc.flush();
  unsubscribe();
  assert.equal(seen.size, written, 'core NATS saw every fact written');
  assert.deepEqual([...seen].filter(([, n]) => n > 1), [], 'no fact published twice');

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

/**
 * The change that finishes a deployment writes its job.completed fact with it: left unpublished
 * (as after a failed WAIT), the relay publishes it after that node's own fact, with the counts
 * the script read.
 */
test('a deployment finished by an unpublished change: the relay publishes job.completed after the node fact', async (t) => {
  const { json, bus, redis } = await startScheduler(t, {});
  await new ImageCatalog(redis).put(TEST_IMAGE);
  assert.equal((await json('POST', '/v1/nodes', { id: 'j1', mac: '52:54:00:0f:01:01' })).status, 201);
  const dep = await json<Deployment>('POST', '/v1/deployments', { image: TEST_IMAGE.name, nodes: ['j1'], target: 'emulated' });
  assert.equal(dep.status, 201);
  const store = new SchedulerStore(redis);
  const node = await store.getNode('j1');
  assert.ok(node);
  const res = await store.casTransition(node, 'installed', { counter: 'installed' });
  assert.equal(res.kind, 'completed');
  await waitFor('job.completed published by the relay', async () => (await storedEvents(bus)).some((e) => e.subject === Events.jobCompleted.subject), 10_000);
  const events = await storedEvents(bus);
  const last = events.slice(-2);
  assert.deepEqual(
    last.map((e) => e.subject),
    ['swarmboot.node.state.j1', Events.jobCompleted.subject],
  );
  const deployment = (await json<Deployment>('GET', `/v1/deployments/${dep.body.id}`)).body;
  assert.deepEqual(last[1]?.data, { deploymentId: dep.body.id, image: deployment.image, installed: deployment.counts.installed, failed: deployment.counts.failed, durationMs: last[1]?.data.durationMs });
  assert.equal(last[1]?.time, last[0]?.time, 'written by the same script');
});
