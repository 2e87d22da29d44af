import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo } from 'node:dgram';
import { waitFor } from '@swarmboot/testkit';
import { createSyslogSender } from '../src/adapters/syslog-sender.js';
import { parseSyslog } from '../src/protocol/syslog.js';

test('createSyslogSender sends RFC 5424 lines, facility user, from its localAddress; one datagram per line', async () => {
  const rx = createSocket('udp4');
  const got: { msg: Buffer; rinfo: RemoteInfo }[] = [];
  rx.on('message', (msg, rinfo) => got.push({ msg, rinfo }));
  await new Promise<void>((resolve) => rx.bind(0, '127.0.0.1', resolve));
  const sender = createSyslogSender({ target: { host: '127.0.0.1', port: rx.address().port }, localAddress: '127.77.1.5', hostname: 'node-5', app: 'swarmboot-agent' });
  try {
    sender.send(6, 'fetching image');
    sender.send(3, 'verify failed:\nexpected abc\r\n\ngot def\n');
    await waitFor('4 datagrams', () => got.length >= 4, 5000);
    await sender.close();
    assert.ok(got.every((g) => g.rinfo.address === '127.77.1.5'), 'sent from the node address');
    const parsed = got.map((g) => parseSyslog(g.msg));
    assert.deepEqual(
      parsed.map((p) => [p.format, p.facility, p.severity, p.hostname, p.app, p.procId, p.message]),
      [
        ['rfc5424', 1, 6, 'node-5', 'swarmboot-agent', String(process.pid), 'fetching image'],
        ['rfc5424', 1, 3, 'node-5', 'swarmboot-agent', String(process.pid), 'verify failed:'],
        ['rfc5424', 1, 3, 'node-5', 'swarmboot-agent', String(process.pid), 'expected abc'],
        ['rfc5424', 1, 3, 'node-5', 'swarmboot-agent', String(process.pid), 'got def'],
      ],
    );
    assert.ok(parsed.every((p) => p.timestamp !== undefined && !Number.isNaN(Date.parse(p.timestamp))));
    sender.send(6, 'after close'); // ignored, no throw
    assert.throws(() => sender.send(9, 'bad severity'), /severity 9/);
  } finally {
    await sender.close();
    await new Promise<void>((resolve) => rx.close(() => resolve()));
  }
});

test('createSyslogSender: a localAddress that is not ours reports the bind error and closes promptly', async () => {
  const errors: Error[] = [];
  // 192.0.2.1 (TEST-NET-1) is not assigned here: bind fails with EADDRNOTAVAIL before anything is sent.
  const sender = createSyslogSender({ target: { host: '127.0.0.1', port: 9 }, localAddress: '192.0.2.1', hostname: 'h', app: 'a', onError: (e) => errors.push(e) });
  sender.send(6, 'queued while binding');
  await waitFor('bind error', () => errors.length > 0, 5000);
  assert.match((errors[0] as NodeJS.ErrnoException).code ?? '', /EADDRNOTAVAIL|EINVAL/);
  sender.send(6, 'dropped after a failed bind');
  const t0 = Date.now();
  await sender.close();
  assert.ok(Date.now() - t0 < 1000, 'close does not wait for sends dgram discarded');
});
