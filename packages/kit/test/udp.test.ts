import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:dgram';
import { bindUdp, plainAddress } from '../src/index.js';

const close = (s: Socket): Promise<void> => new Promise((resolve) => s.close(() => resolve()));

test('bindUdp resolves once bound on a kernel-chosen port; datagrams arrive', async () => {
  const rx = await bindUdp({ host: '127.0.0.1', port: 0, recvBufferBytes: 1024 * 1024 });
  const tx = await bindUdp({ host: '127.0.0.1', port: 0 });
  try {
    const { address, port } = rx.address();
    assert.equal(address, '127.0.0.1');
    assert.notEqual(port, 0);
    const got = new Promise<Buffer>((resolve) => rx.once('message', resolve));
    tx.send('ping', port, '127.0.0.1');
    assert.equal((await got).toString(), 'ping');
  } finally {
    await Promise.all([close(rx), close(tx)]);
  }
});

test('bindUdp rejects with the bind error for a taken port, and with reuseAddr on both sockets shares it', async () => {
  const first = await bindUdp({ host: '127.0.0.1', port: 0 });
  const { port } = first.address();
  try {
    await assert.rejects(bindUdp({ host: '127.0.0.1', port }), { code: 'EADDRINUSE' });
  } finally {
    await close(first);
  }
  const a = await bindUdp({ host: '127.0.0.1', port, reuseAddr: true });
  const b = await bindUdp({ host: '127.0.0.1', port, reuseAddr: true });
  assert.equal(b.address().port, a.address().port);
  await Promise.all([close(a), close(b)]);
});

test('bindUdp picks udp6 for an IPv6 host; an address that is not ours is EADDRNOTAVAIL', async (t) => {
  const v6 = await bindUdp({ host: '::1', port: 0 }).catch((err: NodeJS.ErrnoException) => err);
  if (v6 instanceof Error) {
    t.skip(`no IPv6 loopback here: ${v6.code ?? v6.message}`);
  } else {
    assert.equal(v6.address().family, 'IPv6');
    await close(v6);
  }
  await assert.rejects(bindUdp({ host: '192.0.2.1', port: 0 }), { code: 'EADDRNOTAVAIL' });
});

test('plainAddress unwraps IPv4-mapped IPv6 and leaves everything else alone', () => {
  assert.equal(plainAddress('::ffff:10.0.0.1'), '10.0.0.1');
  assert.equal(plainAddress('10.0.0.1'), '10.0.0.1');
  assert.equal(plainAddress('::ffff:a00:1'), '::ffff:a00:1');
  assert.equal(plainAddress('fe80::1'), 'fe80::1');
});
