import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSwarmbootError } from '@swarmboot/contracts';
import { loadDhcpConfig } from '../src/index.js';

function withFile(text: string, fn: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'dhcp-config-'));
  try {
    const path = join(dir, 'dhcp.yaml');
    writeFileSync(path, text);
    fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const YAML = `
mode: proxy
listen: 0.0.0.0:1067
proxyPort: 4011
serverId: 10.1.0.1
leaseSeconds: 7200
bootFiles:
  efiX64: snponly.efi
  httpX64: http://10.1.0.1/ipxe.efi
subnets:
  - subnet: 10.1.0.0/16
    pool: 10.1.1.1-10.1.9.254
    router: 10.1.0.1
    nextServer: 10.1.0.2
reservations:
  - mac: 02-00-00-00-00-0A
    ip: 10.1.0.10
    hostname: db-1
redisUrl: redis://10.1.0.3:6379
natsUrl: none
`;

test('a YAML config file sets mode, boot files, subnets, reservations and the connection URLs', () => {
  withFile(YAML, (path) => {
    const c = loadDhcpConfig({ SWARMBOOT_DHCP_CONFIG: path, SWARMBOOT_REDIS_URL: 'redis://ignored:1' });
    assert.equal(c.settings.mode, 'proxy');
    assert.deepEqual(c.settings.listen, { host: '0.0.0.0', port: 1067 });
    assert.equal(c.settings.proxyPort, 4011);
    assert.equal(c.settings.leaseSeconds, 7200);
    assert.equal(c.settings.bootFiles?.efiX64, 'snponly.efi');
    assert.equal(c.settings.bootFiles?.bios, 'undionly.kpxe', 'defaults kept for what the file leaves out');
    assert.equal(c.settings.subnets[0]!.nextServer, '10.1.0.2');
    assert.deepEqual(c.settings.reservations, [{ mac: '02:00:00:00:00:0a', ip: '10.1.0.10', hostname: 'db-1' }]);
    assert.equal(c.env.SWARMBOOT_REDIS_URL, 'redis://10.1.0.3:6379');
    assert.equal(c.env.SWARMBOOT_NATS_URL, 'none');
  });
});

test('JSON works too; a reservation inside the pool, an unknown key or a bad file is CONFIG_INVALID', () => {
  withFile(JSON.stringify({ subnets: [{ subnet: '10.2.0.0/24', pool: '10.2.0.10-10.2.0.20', nextServer: '10.2.0.1' }] }), (path) => {
    assert.equal(loadDhcpConfig({ SWARMBOOT_DHCP_CONFIG: path }).settings.subnets[0]!.cidr, '10.2.0.0/24');
  });
  withFile(YAML.replace('ip: 10.1.0.10', 'ip: 10.1.2.10'), (path) => {
    assert.throws(() => loadDhcpConfig({ SWARMBOOT_DHCP_CONFIG: path }), (e: unknown) => isSwarmbootError(e, 'CONFIG_INVALID') && /inside the dynamic pool/.test(e.message));
  });
  withFile('leaseTime: 5\n', (path) => {
    assert.throws(() => loadDhcpConfig({ SWARMBOOT_DHCP_CONFIG: path }), (e: unknown) => isSwarmbootError(e, 'CONFIG_INVALID') && e.message.includes(path));
  });
  assert.throws(() => loadDhcpConfig({ SWARMBOOT_DHCP_CONFIG: '/nonexistent/dhcp.yaml' }), (e: unknown) => isSwarmbootError(e, 'CONFIG_INVALID'));
});
