import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Events, Stream } from '@swarmboot/contracts';
import { startNatsCluster, waitFor, type NatsCluster } from '@swarmboot/testkit';
import { connectNats, createLogger, EventBus } from '../../src/index.js';

// A three-node NATS cluster with the SWARMBOOT stream at R3 (issue 15 part 6): one member is
// killed -9 while events flow through the kit's EventBus to a durable consumer; every event
// whose publish was acknowledged arrives, once. The figures go to docs/benchmarks.md.

const log = createLogger('test', 'fatal');
let cluster: NatsCluster;
const connections: NatsConnection[] = [];

before(async () => {
  cluster = await startNatsCluster(3);
});
after(async () => {
  await Promise.all(connections.map((nc) => nc.close()));
  await cluster?.stop();
});

test('kill -9 of the stream leader mid-stream: publishing resumes, no event lost or duplicated past the durable consumer', async (t) => {
  const pubNc = await connectNats(cluster.url, 'cluster-pub', log, { replicas: 3 });
  const subNc = await connectNats(cluster.url, 'cluster-sub', log, { replicas: 3 });
  connections.push(pubNc, subNc);
  const jsm = await jetstreamManager(pubNc);
  const placed = (await jsm.streams.info(Stream.name)).cluster;
  assert.equal(placed?.replicas?.length, 2, 'the stream has a leader and two followers');
  const leader = cluster.nodes.find((n) => n.name === placed?.leader);
  assert.ok(leader, `stream leader ${placed?.leader} is one of ours`);

  const received = new Map<number, number>();
  const ids = new Map<number, string[]>(); // the CloudEvent ids each xid arrived with: one id twice is a redelivery, two ids a publish sent again
  const stopConsumer = await new EventBus(subNc, 'swarmboot/cluster-sub', log).consume(Events.leaseGranted, 'cluster-test', async (data, event) => {
    received.set(data.xid, (received.get(data.xid) ?? 0) + 1);
    ids.set(data.xid, [...(ids.get(data.xid) ?? []), event.id]);
  });

  const pub = new EventBus(pubNc, 'swarmboot/cluster-pub', log);
  const acked = new Set<number>();
  let failures = 0;
  const failureKinds = new Map<string, number>();
  let longestGapMs = 0;
  let killedAt = 0;
  let firstAckAfterKillMs = Number.NaN;
  let last = performance.now();
  const started = performance.now();
  // publish until 2 s of acknowledged events after the first one that followed the kill (30 s at most)
  const done = (): boolean => performance.now() - started > 30_000 || (!Number.isNaN(firstAckAfterKillMs) && performance.now() - killedAt > firstAckAfterKillMs + 2000);
  for (let xid = 0; !done(); ) {
    if (killedAt === 0 && performance.now() - started > 1500) {
      leader.kill();
      killedAt = performance.now();
    }
    try {
      await pub.publish(Events.leaseGranted, { chaddr: '02:00:00:00:00:01', yiaddr: '10.0.0.10', giaddr: '0.0.0.0', xid, leaseSeconds: 60 });
      const now = performance.now();
      longestGapMs = Math.max(longestGapMs, now - last);
      last = now;
      if (killedAt !== 0 && Number.isNaN(firstAckAfterKillMs)) firstAckAfterKillMs = now - killedAt;
      acked.add(xid);
      xid++;
    } catch (err) {
      // not acknowledged: sent again as the same xid (a new CloudEvent id, so a copy the stream did store counts as a duplicate)
      failures++;
      const kind = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      failureKinds.set(kind, (failureKinds.get(kind) ?? 0) + 1);
      await sleep(50);
    }
  }
  await waitFor('every acknowledged event at the consumer', () => [...acked].every((x) => received.has(x)), 30_000, 100).catch(() => undefined);
  await sleep(500); // let a late redelivery show up
  await stopConsumer();

  const missing = [...acked].filter((x) => !received.has(x));
  const duplicated = [...received].filter(([, n]) => n > 1).map(([x]) => x);
  const copies = duplicated.map((x) => `${x}: ${new Set(ids.get(x)).size === 1 ? 'redelivered' : 'published again'}`);
  t.diagnostic(
    `killed ${leader.name} (stream leader) at ${(killedAt - started).toFixed(0)} ms; first ack after ${firstAckAfterKillMs.toFixed(0)} ms; longest gap between acks ${longestGapMs.toFixed(0)} ms; ` +
      `acked ${acked.size}, failed publishes ${failures} ${JSON.stringify([...failureKinds])}, received ${received.size}, missing ${missing.length}, duplicated ${duplicated.length} ${JSON.stringify(copies)}`,
  );
  assert.deepEqual(missing, [], 'acknowledged events lost');
  assert.deepEqual(copies, [], 'events delivered twice past the consumer');
  assert.ok(longestGapMs < 15_000, `publishing stopped for ${longestGapMs.toFixed(0)} ms`);
  const after = (await jsm.streams.info(Stream.name)).cluster;
  assert.notEqual(after?.leader, leader.name, 'a surviving member leads the stream');
});
