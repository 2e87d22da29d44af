import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { isSwarmbootError } from '@swarmboot/contracts';
import { freePort, spawnMain, startNats, startRedis, type Started } from '@swarmboot/testkit';
import { main, requestLeaseViaRelay } from '../../src/index.js';

/* `main(env)` as `swarmboot dhcp` runs it: a child process wired to real NATS and Redis. */

const mainModule = fileURLToPath(new URL('../../src/main.js', import.meta.url));
let natsSrv: Started;
let redisSrv: Started;

before(async () => {
  [natsSrv, redisSrv] = await Promise.all([startNats(), startRedis()]);
});

after(async () => {
  await natsSrv?.stop();
  await redisSrv?.stop();
});

test('a bad SWARMBOOT_DHCP_SUBNETS stops start-up naming the variable', async () => {
  await assert.rejects(main({ SWARMBOOT_DHCP_SUBNETS: '[{"subnet":"127.77.0.0/16","pool":"127.77.1.1","nextServer":"127.0.0.1"}]' }), (err: unknown) => {
    return isSwarmbootError(err, 'CONFIG_INVALID') && err.message.includes('SWARMBOOT_DHCP_SUBNETS');
  });
});

test('main(env) serves leases, exposes /healthz and /metrics, and exits 0 on SIGTERM', async () => {
  const [dhcpPort, opsPort] = [await freePort(), await freePort()];
  const proc = spawnMain(mainModule, {
    SWARMBOOT_NATS_URL: natsSrv.url,
    SWARMBOOT_REDIS_URL: redisSrv.url,
    SWARMBOOT_LOG_LEVEL: 'warn',
    SWARMBOOT_DHCP_LISTEN: `127.0.0.1:${dhcpPort}`,
    SWARMBOOT_OPS_LISTEN: `127.0.0.1:${opsPort}`,
  });
  try {
    await proc.healthz(opsPort);
    const lease = await requestLeaseViaRelay({ server: { host: '127.0.0.1', port: dhcpPort }, giaddr: '127.77.0.1', chaddr: '02:00:00:00:be:ef', arch: 7, timeoutMs: 10_000 });
    assert.equal(lease.bootFile, 'ipxe.efi');
    const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
    assert.match(metrics, /swarmboot_dhcp_replies_total\{type="ack"\} 1/);
    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0, proc.stderr());
  } finally {
    proc.kill();
  }
});
