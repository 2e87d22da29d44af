import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBootScript, parseTftpUrl, parseWaitScript, swarmbootArgs } from '../src/boot-script.js';

const script = `#!ipxe
kernel tftp://127.0.0.1:6969/debian/linux console=ttyS0,115200 priority=critical swarmboot.api=http://127.0.0.1:8080 swarmboot.node=node-001 swarmboot.deployment=d-1 initrd=initrd.gz
initrd tftp://127.0.0.1:6969/debian/initrd.gz
boot
`;

test('an iPXE script gives kernel, initrd and the swarmboot arguments', () => {
  const b = parseBootScript(script);
  assert.equal(b.kernelUrl, 'tftp://127.0.0.1:6969/debian/linux');
  assert.equal(b.initrdUrl, 'tftp://127.0.0.1:6969/debian/initrd.gz');
  assert.deepEqual(swarmbootArgs(b.cmdline), { api: 'http://127.0.0.1:8080', node: 'node-001', deployment: 'd-1' });
  assert.deepEqual(parseTftpUrl(b.initrdUrl), { host: '127.0.0.1', port: 6969, file: 'debian/initrd.gz' });
  assert.equal(parseTftpUrl('tftp://10.0.0.5/ipxe.efi').port, 69);
});

test('a script without kernel (no deployment) or not iPXE is refused with a code', () => {
  assert.throws(() => parseBootScript('#!ipxe\necho no deployment for this node\nexit\n'), { code: 'BOOT_SCRIPT_INVALID' });
  assert.throws(() => parseBootScript('<html>'), { code: 'BOOT_SCRIPT_INVALID' });
  assert.throws(() => parseTftpUrl('http://x/y'), { code: 'BOOT_SCRIPT_INVALID' });
});

test('the queued node\'s script: how long to sleep and the URL to ask again; other scripts are not one', () => {
  // as services/scheduler protocol/ipxe.ts waitScript writes it
  const wait = '#!ipxe\necho swarmboot: node n1 is queued in deployment dep-1; waiting for admission\nsleep 10\nchain --replace --autofree http://10.0.0.1:8080/v1/boot/52:54:00:00:00:01\n';
  assert.deepEqual(parseWaitScript(wait), { seconds: 10, url: 'http://10.0.0.1:8080/v1/boot/52:54:00:00:00:01' });
  assert.equal(parseWaitScript('#!ipxe\nkernel tftp://h/linux a=b\ninitrd tftp://h/initrd\nboot\n'), undefined);
  assert.equal(parseWaitScript('#!ipxe\necho no deployment\nexit\n'), undefined);
  assert.equal(parseWaitScript('sleep 10\nchain http://h/x\n'), undefined);
});
