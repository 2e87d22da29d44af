import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ipToInt } from '@swarmboot/kit';
import { createSegment, netnsUnavailable, run, startSocketRedis, startSwarmbootDhcp, type Proc, type Segment } from './netns.js';

/*
 * `swarmboot dhcp --config FILE` against real DHCP clients — busybox udhcpc, ISC dhclient and
 * Kea's perfdhcp — over a veth pair between two network namespaces (one broadcast segment; the
 * server binds 0.0.0.0:67 in its netns). Leases live in a redis-server on a unix socket.
 * Needs root; skips with the reason otherwise.
 */

const skip = netnsUnavailable(['udhcpc', 'dhclient', 'perfdhcp']);
const POOL = { first: '10.66.1.1', last: '10.66.60.254' };

let seg: Segment;
let redisSrv: { path: string; stop(): Promise<void> };
let redis: Redis;
const servers: Proc[] = [];

function config(serverId: string, listenHost: string): Record<string, unknown> {
  return {
    listen: `${listenHost}:67`,
    serverId,
    natsUrl: 'none',
    redisUrl: redisSrv.path,
    opsListen: '127.0.0.1:0',
    // two replicas in one netns: one on 0.0.0.0:67 (broadcasts), one on 10.66.0.2:67
    reuseAddr: true,
    leaseSeconds: 600,
    subnets: [{ subnet: '10.66.0.0/16', pool: `${POOL.first}-${POOL.last}`, router: '10.66.0.1', nextServer: '10.66.0.1', dns: ['10.66.0.1'] }],
    bootFiles: { efiX64: 'snponly.efi' },
    reservations: [{ mac: '02:00:00:00:aa:01', ip: '10.66.0.50', hostname: 'reserved-1' }],
  };
}

function inPool(ip: string): boolean {
  const n = ipToInt(ip);
  return n >= ipToInt(POOL.first) && n <= ipToInt(POOL.last);
}

/** A udhcpc/dhclient script that appends the environment it was called with, one JSON line per call. */
function recorder(name: string): { script: string; read(): Record<string, string>[] } {
  const out = join(seg.dir, `${name}.jsonl`);
  const script = join(seg.dir, `${name}.sh`);
  writeFileSync(script, `#!/bin/sh\nnode -e 'process.stdout.write(JSON.stringify({arg:process.argv[1],...process.env})+"\\n")' "$1" >> ${out}\n`);
  chmodSync(script, 0o755);
  return {
    script,
    read: () => {
      try {
        return readFileSync(out, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, string>);
      } catch {
        return [];
      }
    },
  };
}

before(async () => {
  if (skip) return;
  seg = createSegment('dh', 1, ['10.66.0.1/16', '10.66.0.2/16']);
  redisSrv = await startSocketRedis(seg.dir);
  redis = new Redis(redisSrv.path);
  servers.push(await startSwarmbootDhcp(seg.server, seg.dir, 'dhcp-a', config('10.66.0.1', '0.0.0.0'), 'debug'));
});

after(async () => {
  if (skip) return;
  for (const s of servers) await s.stop();
  redis?.disconnect();
  await redisSrv?.stop();
  seg?.destroy();
});

test('udhcpc as a UEFI PXE ROM: one lease, snponly.efi, server id, T1/T2, keyed by chaddr', { skip }, async () => {
  const rec = recorder('udhcpc-pxe');
  const mac = '02:00:00:00:01:01';
  const common = ['-i', seg.clientIf, '-n', '-q', '-f', '-s', rec.script, '-t', '4', '-T', '1', '-V', 'PXEClient:Arch:00007:UNDI:003016'];
  // option 93 = 7 (x64 UEFI) as hex; option 61 as the PXE ROM sends it (type 0 + UUID)
  // udhcpc takes its MAC from the interface: set ours first
  await run(seg.client, 'ip', ['link', 'set', seg.clientIf, 'address', mac], 5000);
  const first = await run(seg.client, 'udhcpc', [...common, '-x', '0x5d:0007', '-x', '0x3d:00' + 'a1'.repeat(16), '-O', '0x43'], 30_000);
  assert.equal(first.code, 0, first.out);
  const bound = rec.read().filter((e) => e.arg === 'bound').at(-1);
  assert.ok(bound, `no bound event: ${first.out}`);
  assert.ok(inPool(bound.ip!), bound.ip);
  assert.equal(bound.serverid, '10.66.0.1');
  assert.equal(bound.boot_file, 'snponly.efi');
  assert.equal(bound.siaddr, '10.66.0.1');
  assert.equal(bound.lease, '600');
  assert.equal(bound.subnet, '255.255.0.0');
  // the same NIC now as iPXE: a different option 61 (type 1 + MAC), user class iPXE — same address
  const ipxe = await run(seg.client, 'udhcpc', [...common, '-x', '0x5d:0007', '-x', '0x4d:69505845', '-O', '0x43'], 30_000);
  assert.equal(ipxe.code, 0, ipxe.out);
  const bound2 = rec.read().filter((e) => e.arg === 'bound').at(-1)!;
  assert.equal(bound2.ip, bound.ip, 'PXE ROM and iPXE on one machine hold ONE lease');
  assert.match(bound2.boot_file ?? '', /^http:\/\/.*02:00:00:00:01:01/);
  assert.equal(await redis.get(`sb:dhcp:ip:${bound.ip}`), mac);
  const rec61 = await redis.hgetall(`sb:dhcp:lease:${mac}`);
  assert.equal(rec61.state, 'bound');
});

test('udhcpc without PXE: the lease is keyed by option 61 (RFC 6842); a reservation gives its address and hostname', { skip }, async () => {
  const rec = recorder('udhcpc-plain');
  await run(seg.client, 'ip', ['link', 'set', seg.clientIf, 'address', '02:00:00:00:01:02'], 5000);
  const plain = await run(seg.client, 'udhcpc', ['-i', seg.clientIf, '-n', '-q', '-f', '-s', rec.script, '-t', '4', '-T', '1', '-x', '0x3d:ff00000001', '-O', 'hostname'], 30_000);
  assert.equal(plain.code, 0, plain.out);
  const bound = rec.read().find((e) => e.arg === 'bound')!;
  assert.ok(inPool(bound.ip!));
  assert.equal(await redis.get(`sb:dhcp:ip:${bound.ip}`), 'id:ff00000001');

  const recR = recorder('udhcpc-reserved');
  await run(seg.client, 'ip', ['link', 'set', seg.clientIf, 'address', '02:00:00:00:aa:01'], 5000);
  const r = await run(seg.client, 'udhcpc', ['-i', seg.clientIf, '-n', '-q', '-f', '-s', recR.script, '-t', '4', '-T', '1', '-O', 'hostname', '-V', 'PXEClient'], 30_000);
  assert.equal(r.code, 0, r.out);
  const b = recR.read().find((e) => e.arg === 'bound')!;
  assert.equal(b.ip, '10.66.0.50');
  assert.equal(b.hostname, 'reserved-1');
});

test('dhclient: a lease with server id, T1 = lease/2, T2 = 7/8, DNS', { skip }, async () => {
  await run(seg.client, 'ip', ['link', 'set', seg.clientIf, 'address', '02:00:00:00:01:03'], 5000);
  const rec = recorder('dhclient');
  const files = ['-sf', rec.script, '-pf', join(seg.dir, 'dhclient.pid'), '-lf', join(seg.dir, 'dhclient.leases')];
  // -d keeps it in the foreground; it is killed once bound (the script recorded the lease)
  const got = await run(seg.client, 'sh', ['-c', `dhclient -4 -1 -d -v ${files.join(' ')} ${seg.clientIf} & P=$!; for i in $(seq 100); do grep -q BOUND ${join(seg.dir, 'dhclient.jsonl')} 2>/dev/null && break; sleep 0.1; done; kill $P`], 30_000);
  const bound = rec.read().find((e) => e.reason === 'BOUND');
  assert.ok(bound, got.out);
  assert.ok(inPool(bound.new_ip_address!));
  assert.equal(bound.new_dhcp_server_identifier, '10.66.0.1');
  assert.equal(bound.new_dhcp_lease_time, '600');
  assert.equal(bound.new_dhcp_renewal_time, '300');
  assert.equal(bound.new_dhcp_rebinding_time, '525');
  assert.equal(bound.new_domain_name_servers, '10.66.0.1');
  const holder = await redis.get(`sb:dhcp:ip:${bound.new_ip_address}`);
  assert.ok(holder !== null);
});

test('replicas: 1,200 perfdhcp clients through two relays, two swarmboot dhcp sharing one Redis — no address given twice', { skip, timeout: 120_000 }, async () => {
  // the second replica binds the server netns' second address; each perfdhcp is a relay (giaddr = its -l address)
  servers.push(await startSwarmbootDhcp(seg.server, seg.dir, 'dhcp-b', config('10.66.0.2', '10.66.0.2'), 'debug'));
  // the first one bound 0.0.0.0:67 and would also get datagrams to 10.66.0.2 — the second one's specific bind wins (more specific)
  await run(seg.client, 'ip', ['addr', 'add', '10.66.0.10/16', 'dev', seg.clientIf], 5000);
  await run(seg.client, 'ip', ['addr', 'add', '10.66.0.11/16', 'dev', seg.clientIf], 5000);
  const perf = (local: string, server: string, macBase: string) =>
    run(seg.client, 'perfdhcp', ['-4', '-l', local, '-r', '200', '-R', '600', '-n', '600', '-p', '10', '-W', '3000000', '-b', `mac=${macBase}`, server], 60_000);
  const [a, b] = await Promise.all([perf('10.66.0.10', '10.66.0.1', '00:0c:01:00:00:00'), perf('10.66.0.11', '10.66.0.2', '00:0c:02:00:00:00')]);
  for (const r of [a, b]) assert.doesNotMatch(r.out, /rejected leases: [1-9]/, r.out);

  // the ACKs, from both replicas' logs: yiaddr → chaddrs
  const acked = new Map<string, Set<string>>();
  let acks = 0;
  for (const s of servers) {
    let mine = 0;
    for (const line of s.out().split('\n')) {
      if (!line.includes('"replied"') || !line.includes('"type":"ack"')) continue;
      const e = JSON.parse(line) as { yiaddr: string; chaddr: string };
      acks++;
      mine++;
      const set = acked.get(e.yiaddr) ?? new Set<string>();
      set.add(e.chaddr);
      acked.set(e.yiaddr, set);
    }
    assert.ok(mine >= 500, `a replica sent only ${mine} ACKs`);
  }
  const twice = [...acked].filter(([, macs]) => macs.size > 1);
  assert.deepEqual(twice, [], 'an address ACKed to two clients');
  const clients = new Set([...acked.values()].flatMap((s) => [...s]).filter((m) => m.startsWith('00:0c:0')));
  assert.ok(clients.size >= 1000, `only ${clients.size} perfdhcp clients got an ACK (${acks} ACKs)\n${a.out}\n${b.out}`);

  // and Redis: every bound lease record's address is held by that record's key, and no address twice
  const keys = await redis.keys('sb:dhcp:lease:*');
  const byIp = new Map<string, string[]>();
  for (const k of keys) {
    const h = await redis.hgetall(k);
    if (h.state !== 'bound' || h.ip === undefined) continue;
    const key = k.slice('sb:dhcp:lease:'.length);
    byIp.set(h.ip, [...(byIp.get(h.ip) ?? []), key]);
    assert.equal(await redis.get(`sb:dhcp:ip:${h.ip}`), key);
  }
  assert.deepEqual([...byIp].filter(([, ks]) => ks.length > 1), []);
  assert.ok(byIp.size >= 1000, `${byIp.size} bound leases`);
});
