import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installScript, localBootScript, waitScript } from '../src/protocol/ipxe.js';

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

test('local boot script echoes and exits; messages cannot inject commands or expand settings', () => {
  assert.equal(localBootScript('no deployment'), '#!ipxe\necho no deployment\nexit\n');
  assert.equal(localBootScript('a\nchain http://evil/${x}'), '#!ipxe\necho a chain http://evil/{x}\nexit\n');
});

test('wait script sleeps and fetches itself again', () => {
  assert.equal(waitScript('queued', 'http://127.0.0.1:8080/v1/boot/aa:bb:cc:dd:ee:ff', 10), '#!ipxe\necho queued\nsleep 10\nchain --replace --autofree http://127.0.0.1:8080/v1/boot/aa:bb:cc:dd:ee:ff\n');
});
