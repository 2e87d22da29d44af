import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { TransmitScheduler } from '../src/adapters/scheduler.js';

async function bound(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return s;
}

test('paced: the total send rate of all senders stays within the budget', async () => {
  const sink = await bound();
  const a = await bound();
  const b = await bound();
  let received = 0;
  sink.on('message', (m) => (received += m.length));
  try {
    const rate = 2_000_000; // bytes/s on the wire
    const sched = new TransmitScheduler({ rateBytesPerSec: rate, burstBytes: 20_000 });
    const payload = Buffer.alloc(9954); // + 46 bytes of headers = 10 000 on the wire
    const started = performance.now();
    const sent = new Promise<number>((resolve) => {
      let left = 200;
      for (let i = 0; i < 200; i++) {
        sched.enqueue({ socket: i % 2 ? a : b, bytes: payload, address: '127.0.0.1', port: sink.address().port, urgent: false, onSent: () => --left === 0 && resolve(performance.now()) });
      }
    });
    const elapsed = ((await sent) - started) / 1000;
    // 2 MB at 2 MB/s, less the 20 kB the bucket starts with: ~0.99 s
    assert.ok(elapsed >= 0.9 && elapsed <= 1.6, `200 × 10 kB at 2 MB/s took ${elapsed.toFixed(3)} s`);
    assert.equal(sched.sentPackets, 200);
    assert.equal(sched.sentBytes, 2_000_000);
  } finally {
    for (const s of [sink, a, b]) s.close();
  }
});

test('urgent datagrams (a client in trouble) leave before every queued normal one', async () => {
  const sink = await bound();
  const s = await bound();
  try {
    // a tiny bucket: one datagram at a time, so a queue forms
    const sched = new TransmitScheduler({ rateBytesPerSec: 100_000, burstBytes: 1 });
    const order: string[] = [];
    const all = new Promise<void>((resolve) => {
      const send = (name: string, urgent: boolean): void =>
        sched.enqueue({ socket: s, bytes: Buffer.alloc(954), address: '127.0.0.1', port: sink.address().port, urgent, onSent: () => {
          order.push(name);
          if (order.length === 6) resolve();
        } });
      for (const n of ['n1', 'n2', 'n3', 'n4']) send(n, false);
      send('u1', true);
      send('u2', true);
    });
    await all;
    // n1 left at once (the bucket's first token); then the urgent ones jump the queue, in order
    assert.deepEqual(order, ['n1', 'u1', 'u2', 'n2', 'n3', 'n4']);
  } finally {
    sink.close();
    s.close();
  }
});

test('unpaced (rate 0): datagrams go straight to the socket; close() fails what is still queued', async () => {
  const sink = await bound();
  const s = await bound();
  try {
    const sched = new TransmitScheduler({ rateBytesPerSec: 0 });
    assert.equal(sched.paced, false);
    const got = new Promise<Buffer>((resolve) => sink.once('message', resolve));
    sched.enqueue({ socket: s, bytes: Buffer.from('x'), address: '127.0.0.1', port: sink.address().port, urgent: false, onSent: () => undefined });
    assert.equal(sched.queued, 0);
    assert.deepEqual(await got, Buffer.from('x'));

    const slow = new TransmitScheduler({ rateBytesPerSec: 1000, burstBytes: 1 });
    const errors: (Error | null)[] = [];
    for (let i = 0; i < 3; i++) slow.enqueue({ socket: s, bytes: Buffer.alloc(954), address: '127.0.0.1', port: sink.address().port, urgent: false, onSent: (err) => errors.push(err) });
    slow.close();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(errors.length, 3);
    assert.equal(errors.filter((e) => e !== null).length, 2, 'the two queued datagrams are failed, the first had left');
  } finally {
    sink.close();
    s.close();
  }
});
