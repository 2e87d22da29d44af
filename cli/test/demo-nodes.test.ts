import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoNode } from '../src/demo.js';
import { serviceEnv, defaultPorts, SERVICES } from '../src/stack.js';

test('demo nodes get distinct locally administered MACs and padded ids', () => {
  const macs = new Set<string>();
  for (let i = 1; i <= 1000; i++) {
    const n = demoNode(i);
    assert.match(n.mac, /^02:5b:00:00:[0-9a-f]{2}:[0-9a-f]{2}$/);
    macs.add(n.mac);
  }
  assert.equal(macs.size, 1000);
  assert.equal(demoNode(7).id, 'node-007');
  assert.equal(demoNode(17).labels['rack'], 'r2');
});

test('every service of a stack gets NATS, Redis and its own ops port; operator env wins', () => {
  const envs = serviceEnv({ workDir: '/w', bind: '127.0.0.1', host: '127.0.0.1', ports: defaultPorts(), tftpRoot: '/t', env: { SWARMBOOT_LOG_LEVEL: 'debug' }, say: () => undefined }, 'nats://n:1', 'redis://r:2');
  const opsPorts = new Set<string>();
  for (const s of SERVICES) {
    assert.equal(envs[s]['SWARMBOOT_NATS_URL'], 'nats://n:1');
    assert.equal(envs[s]['SWARMBOOT_REDIS_URL'], 'redis://r:2');
    assert.equal(envs[s]['SWARMBOOT_LOG_LEVEL'], 'debug');
    opsPorts.add(envs[s]['SWARMBOOT_OPS_LISTEN']!);
  }
  assert.equal(opsPorts.size, SERVICES.length);
  assert.equal(envs.tftp['SWARMBOOT_TFTP_ROOT'], '/t');
  assert.equal(envs.dhcp['SWARMBOOT_DHCP_BOOT_SCRIPT_URL'], 'http://127.0.0.1:8080/v1/boot/${mac}');
  // the kernel's netconsole= (from the scheduler) points where the log sink listens
  const sinkPort = envs.logsink['SWARMBOOT_NETCONSOLE_LISTEN']?.split(':')[1];
  assert.ok(sinkPort);
  assert.equal(envs.scheduler['SWARMBOOT_NETCONSOLE_TARGET']?.split(':')[1], sinkPort);
});
