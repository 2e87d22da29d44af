import { test } from 'node:test';
import assert from 'node:assert/strict';
import { environmentScript, installScript, localBootScript, waitScript } from '../src/protocol/ipxe.js';

test('install script: kernel with the node identity, initrd, boot', () => {
  const s = installScript({
    tftpUrl: 'tftp://127.0.0.1:6969/',
    kernel: '/debian/linux',
    initrd: 'debian/initrd.gz',
    cmdline: ' console=ttyS0,115200 priority=critical ',
    publicUrl: 'http://127.0.0.1:8080/',
    nodeId: 'n-001',
    deploymentId: 'dep-1',
  });
  assert.equal(
    s,
    '#!ipxe\n' +
      'kernel tftp://127.0.0.1:6969/debian/linux console=ttyS0,115200 priority=critical swarmboot.api=http://127.0.0.1:8080 swarmboot.node=n-001 swarmboot.deployment=dep-1 initrd=initrd.gz\n' +
      'initrd tftp://127.0.0.1:6969/debian/initrd.gz\n' +
      'boot\n',
  );
});

test('install script without extra kernel arguments has no double space', () => {
  const s = installScript({ tftpUrl: 'tftp://h', kernel: 'k', initrd: 'i', cmdline: '', publicUrl: 'http://a', nodeId: 'n', deploymentId: 'd' });
  assert.match(s, /^kernel tftp:\/\/h\/k swarmboot\.api=http:\/\/a swarmboot\.node=n swarmboot\.deployment=d initrd=initrd\.gz$/m);
});

const LOCAL = 'iseq ${platform} pcbios && sanboot --no-describe --drive 0x80 ||\nexit 1\n';

test('local boot script echoes, boots the first disk on BIOS, else exits; messages cannot inject commands or expand settings', () => {
  assert.equal(localBootScript('no deployment'), `#!ipxe\necho no deployment\n${LOCAL}`);
  assert.equal(localBootScript('a\nchain http://evil/${x}'), `#!ipxe\necho a chain http://evil/{x}\n${LOCAL}`);
});

test('environment script: kernel and initrd over HTTP, the booted NIC as BOOTIF, identity, syslog and netconsole', () => {
  const base = {
    bootenvUrl: 'http://10.0.0.5:8080/v1/bootenv/',
    cmdline: ' console=ttyS0,115200n8 ',
    publicUrl: 'http://10.0.0.5:8080/',
    nodeId: 'n-001',
    deploymentId: 'dep-1',
    mac: '52:54:00:AB:00:01',
    syslog: '10.0.0.5:514',
    attempt: 2,
    attempts: 3,
  };
  const lines = environmentScript({ ...base, netconsole: '10.0.0.5:6666' }).split('\n');
  assert.equal(lines[0], '#!ipxe');
  assert.match(lines[1] ?? '', /^echo .*n-001.*attempt 2 of 3/);
  assert.equal(
    lines[2],
    'kernel http://10.0.0.5:8080/v1/bootenv/vmlinuz initrd=initrd.img console=ttyS0,115200n8 BOOTIF=01-52-54-00-ab-00-01 swarmboot.api=http://10.0.0.5:8080 ' +
      'swarmboot.node=n-001 swarmboot.deployment=dep-1 swarmboot.syslog=10.0.0.5:514 netconsole=@/,6666@10.0.0.5/',
  );
  assert.deepEqual(lines.slice(3), ['initrd http://10.0.0.5:8080/v1/bootenv/initrd.img', 'boot', '']);
  assert.doesNotMatch(environmentScript({ ...base, netconsole: undefined }), /netconsole=/);
});

test('wait script sleeps and fetches itself again', () => {
  assert.equal(waitScript('queued', 'http://127.0.0.1:8080/v1/boot/aa:bb:cc:dd:ee:ff', 10), '#!ipxe\necho queued\nsleep 10\nchain --replace --autofree http://127.0.0.1:8080/v1/boot/aa:bb:cc:dd:ee:ff\n');
});
