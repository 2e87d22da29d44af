import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { RedisKeys } from '@swarmboot/contracts';
import { parseAllowlist } from '@swarmboot/kit';
import { waitFor } from '@swarmboot/testkit';
import { startSink, type SinkHarness } from './harness.js';

/*
 * SWARMBOOT_LOGSINK_ALLOWED_SUBNETS: input from the provisioning network is stored, input from
 * elsewhere is dropped and counted (not_allowed) on all three transports — even from an address
 * that has a lease, so nothing but the source address decides.
 */

let h: SinkHarness;
const INSIDE = '127.77.5.1';
const OUTSIDE = '127.77.6.1';

before(async () => {
  h = await startSink({ allowed: parseAllowlist('127.77.5.0/24', 'SWARMBOOT_LOGSINK_ALLOWED_SUBNETS') });
  for (const [ip, mac, node] of [
    [INSIDE, '52:54:00:77:05:01', 'node-inside'],
    [OUTSIDE, '52:54:00:77:06:01', 'node-outside'],
  ] as const) {
    await h.redis.set(RedisKeys.leaseByIp(ip), mac);
    await h.redis.set(RedisKeys.nodeByMac(mac), node);
  }
});

after(() => h.close());

async function sendTcp(localAddress: string, line: string): Promise<void> {
  const s = connect({ host: '127.0.0.1', port: h.addresses.syslogTcp.port, localAddress });
  await new Promise<void>((resolve) => {
    s.on('error', () => resolve()); // a connection closed by the sink may reset
    s.on('close', () => resolve());
    s.on('connect', () => s.end(`${line}\n`));
  });
}

test('syslog UDP and TCP and netconsole: lines from inside are stored, from outside dropped and counted', async () => {
  const before = await h.counter('swarmboot_logsink_dropped_total', { reason: 'not_allowed' });
  for (const [ip, tag] of [
    [INSIDE, 'in'],
    [OUTSIDE, 'out'],
  ] as const) {
    const s = await h.udpSocket(ip);
    await h.sendUdp(s, h.addresses.syslogUdp.port, `<14>udp line ${tag}`);
    await h.sendUdp(s, h.addresses.netconsole.port, `netconsole line ${tag}\n`);
    await sendTcp(ip, `<14>tcp line ${tag}`);
  }
  for (const m of ['udp line in', 'netconsole line in', 'tcp line in']) await h.waitForStored('node-inside', m);
  await waitFor('three inputs from outside dropped', async () => (await h.counter('swarmboot_logsink_dropped_total', { reason: 'not_allowed' })) - before === 3, 5000);
  assert.deepEqual(await h.stored('node-outside'), [], 'nothing stored for the node outside');
});
