import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Events, RedisKeys, type NodeFailureClassified } from '@swarmboot/contracts';
import { waitFor } from '@swarmboot/testkit';
import { createSyslogSender, SyslogSeverity } from '../../src/index.js';
import { startSink, type SinkHarness } from './harness.js';

let h: SinkHarness;
const events: NodeFailureClassified[] = [];

// The node's lease (DHCP's key) and the scheduler's node hash: its deployment and install attempt.
const IP = '127.77.5.1';
const MAC = '52:54:00:77:05:01';
const NODE = 'node-fc1';
/** the sink's mapping TTL, also how long it skips the Redis claim after a node's match */
const TTL_MS = 200;

before(async () => {
  h = await startSink({ mappingTtlMs: TTL_MS });
  await h.redis.set(RedisKeys.leaseByIp(IP), MAC);
  await h.redis.set(RedisKeys.nodeByMac(MAC), NODE);
  await h.redis.hset(RedisKeys.node(NODE), { id: NODE, mac: MAC, deploymentId: 'dep-fc', attempts: '1' });
  h.bus.subscribe(Events.nodeFailureClassified, (data) => events.push(data));
  await h.nc.flush();
});

after(() => h.close());

const matched = (rule: string) => h.counter('swarmboot_logsink_rule_matches_total', { rule });

/** waits until `n` lines matched `rule`, then long enough for a claim and a publish to land, and flushes NATS */
async function settled(rule: string, n: number): Promise<void> {
  await waitFor(`${n} matches of ${rule}`, async () => (await matched(rule)) >= n);
  await sleep(300);
  await h.nc.flush();
}

test('netconsole: the first matching kernel line of an attempt gives the node one event with its reason', async () => {
  const s = await h.udpSocket(IP);
  const port = h.addresses.netconsole.port;
  await h.sendUdp(s, port, '[   12.001] sd 0:0:0:0: [sda] 16777216 512-byte logical blocks: (8.59 GB/8.00 GiB)\n');
  await h.sendUdp(s, port, '[   13.337] Out of memory: Killed process 412 (node) total-vm:1183376kB, anon-rss:811232kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:2040kB oom_score_adj:0\n');
  await h.sendUdp(s, port, '[   13.338] Out of memory: Killed process 413 (tar) total-vm:9432kB, anon-rss:1200kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:56kB oom_score_adj:0\n');
  const first = await waitFor('a classification on NATS', () => events[0]);
  assert.equal(first.nodeId, NODE);
  assert.equal(first.ruleId, 'oom-kill');
  assert.equal(first.code, 'OUT_OF_MEMORY');
  assert.equal(first.severity, 'error');
  assert.match(first.line, /Killed process 412 \(node\)/);
  assert.equal(first.format, 'netconsole');

  // Past the in-memory skip, a later failure of the same attempt goes to Redis and loses the claim.
  await sleep(TTL_MS + 50);
  await h.sendUdp(s, port, '[   14.002] Kernel panic - not syncing: Out of memory and no killable processes...\n');
  await settled('kernel-panic', 1);
  assert.equal(await matched('oom-kill'), 2, 'both OOM lines matched');
  assert.equal(events.length, 1, 'one event for the attempt, not one per matching line');
  assert.equal(await h.counter('swarmboot_logsink_failures_classified_total'), 1);
});

test('syslog: the next attempt is classified again; a warning and a failure each once', async () => {
  await h.redis.hincrby(RedisKeys.node(NODE), 'attempts', 1); // the scheduler counts the new boot
  await sleep(TTL_MS + 50);
  const agent = createSyslogSender({ target: { host: '127.0.0.1', port: h.addresses.syslogUdp.port }, localAddress: IP, hostname: NODE, app: 'swarmboot-agent' });
  try {
    agent.send(SyslogSeverity.warning, 'swarm stalled: no bytes for 11 s; adding the web seed');
    agent.send(SyslogSeverity.err, `install failed: IMAGE_CORRUPT: sha256 ${'a'.repeat(64)} != catalog ${'b'.repeat(64)}`);
    await settled('checksum-mismatch', 1);
  } finally {
    await agent.close();
  }
  const later = events.slice(1);
  assert.deepEqual(later.map((e) => [e.ruleId, e.code, e.severity]).sort(), [
    ['checksum-mismatch', 'IMAGE_CORRUPT', 'error'],
    ['swarm-stalled', 'SWARM_STALLED', 'warning'],
  ]);
  const [firstAttempt] = events;
  for (const e of later) {
    assert.equal(e.format, 'rfc5424');
    assert.ok(firstAttempt && e.attempt > firstAttempt.attempt, 'a later attempt than the first test');
    assert.equal(e.deploymentId, firstAttempt?.deploymentId);
  }
});

test('lines of senders the sink cannot map to a node classify nothing', async () => {
  const before = events.length;
  const stranger = await h.udpSocket('127.77.5.99');
  await h.sendUdp(stranger, h.addresses.netconsole.port, 'Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n');
  await h.waitForStored('unknown', 'Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)');
  await sleep(300);
  await h.nc.flush();
  assert.equal(events.length, before);
  assert.equal(await matched('kernel-panic'), 1, 'the unmapped line was not even matched');
});
