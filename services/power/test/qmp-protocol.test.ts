import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSwarmbootError } from '@swarmboot/contracts';
import { encodeQmpCommand, parseQmpMessage, QmpLineSplitter } from '../src/protocol/qmp.js';
import { bootOverridePlan, type BootDevice } from '../src/drivers/qmp.js';

// What QEMU 7.2 (Debian 1:7.2+dfsg-7+deb12u18) sent on `-qmp unix:…` for a greeting, a
// system_reset (its RESET event came before the command's answer), and an unknown command.
const Session = Buffer.from(
  [
    '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}',
    '{"timestamp": {"seconds": 1796179507, "microseconds": 932687}, "event": "RESET", "data": {"guest": false, "reason": "host-qmp-system-reset"}}',
    '{"return": {}, "id": 2}',
    '{"id": 3, "error": {"class": "CommandNotFound", "desc": "The command nonsense has not been found"}}',
    '',
  ].join('\r\n'),
);

test('parseQmpMessage: greeting, event, return and error as QEMU sends them', () => {
  const splitter = new QmpLineSplitter();
  const msgs = splitter.push(Session).map(parseQmpMessage);
  assert.deepEqual(msgs, [
    { kind: 'greeting', version: '7.2.22', capabilities: ['oob'] },
    { kind: 'event', event: 'RESET', data: { guest: false, reason: 'host-qmp-system-reset' }, timestamp: { seconds: 1796179507, microseconds: 932687 } },
    { kind: 'return', id: 2, value: {} },
    { kind: 'error', id: 3, errorClass: 'CommandNotFound', desc: 'The command nonsense has not been found' },
  ]);
});

test('QmpLineSplitter: byte by byte gives the same lines; a partial line waits for its end', () => {
  const whole = new QmpLineSplitter().push(Session);
  const splitter = new QmpLineSplitter();
  const got: string[] = [];
  for (const b of Session) got.push(...splitter.push(Buffer.from([b])));
  assert.deepEqual(got, whole);
  assert.equal(whole.length, 4);
  const cut = new QmpLineSplitter();
  assert.deepEqual(cut.push(Session.subarray(0, 40)), []);
  assert.equal(cut.push(Session.subarray(40)).length, 4);
  // a multi-byte UTF-8 character split across chunks stays whole
  const utf = Buffer.from('{"return": "größe"}\n');
  const s = new QmpLineSplitter();
  assert.deepEqual([...s.push(utf.subarray(0, 15)), ...s.push(utf.subarray(15))], ['{"return": "größe"}']);
});

test('QmpLineSplitter: a line past the limit is BMC_RESPONSE_INVALID', () => {
  const s = new QmpLineSplitter(64);
  assert.throws(() => s.push(Buffer.alloc(100, 0x41)), (err: unknown) => isSwarmbootError(err, 'BMC_RESPONSE_INVALID'));
});

test('parseQmpMessage: garbage and other shapes are BMC_RESPONSE_INVALID', () => {
  for (const line of ['HTTP/1.1 400 Bad Request', '[1,2]', '"x"', '{"hello": 1}', '{"error": {"class": 1}}', '{"event": 7}', Session.subarray(0, 60).toString()]) {
    assert.throws(() => parseQmpMessage(line), (err: unknown) => isSwarmbootError(err, 'BMC_RESPONSE_INVALID'), line);
  }
});

test('encodeQmpCommand: one JSON object and LF; arguments and id only when given', () => {
  assert.equal(encodeQmpCommand('qmp_capabilities'), '{"execute":"qmp_capabilities"}\n');
  assert.deepEqual(JSON.parse(encodeQmpCommand('qom-set', { path: '/machine/peripheral/nic0', property: 'bootindex', value: 0 }, 7)), {
    execute: 'qom-set',
    arguments: { path: '/machine/peripheral/nic0', property: 'bootindex', value: 0 },
    id: 7,
  });
});

const nic = (bootindex: number, path = '/machine/peripheral/nic0'): BootDevice => ({ path, bootindex, nic: true });
const disk = (bootindex: number, path = '/machine/peripheral-anon/device[0]'): BootDevice => ({ path, bootindex, nic: false });

test('bootOverridePlan: the NIC first, the others keep their order; nothing when it is first already', () => {
  // vm-lab's order: NIC 1, disk 2 — already first
  assert.deepEqual(bootOverridePlan([nic(1), disk(2)]).apply, []);
  // disk first: the NIC gets 0 (the disk keeps 1)
  const p = bootOverridePlan([disk(1), nic(2)]);
  assert.deepEqual(p.apply, [
    { path: '/machine/peripheral/nic0', bootindex: -1 },
    { path: '/machine/peripheral/nic0', bootindex: 0 },
  ]);
  assert.deepEqual(p.restore, [
    { path: '/machine/peripheral/nic0', bootindex: -1 },
    { path: '/machine/peripheral/nic0', bootindex: 2 },
  ]);
  // the disk holds 0: it moves to 1, out of the way first (QEMU refuses an index in use)
  const q = bootOverridePlan([disk(0), nic(5), disk(3, '/machine/peripheral/cd')]);
  assert.deepEqual(q.apply, [
    { path: '/machine/peripheral-anon/device[0]', bootindex: -1 },
    { path: '/machine/peripheral/nic0', bootindex: -1 },
    { path: '/machine/peripheral/cd', bootindex: -1 },
    { path: '/machine/peripheral-anon/device[0]', bootindex: 1 },
    { path: '/machine/peripheral/nic0', bootindex: 0 },
    { path: '/machine/peripheral/cd', bootindex: 2 },
  ]);
  assert.deepEqual(q.restore.slice(3), [
    { path: '/machine/peripheral-anon/device[0]', bootindex: 0 },
    { path: '/machine/peripheral/nic0', bootindex: 5 },
    { path: '/machine/peripheral/cd', bootindex: 3 },
  ]);
  // a NIC outside the order (-1) is put in it; of two NICs the one earlier in the order wins
  assert.deepEqual(bootOverridePlan([disk(1), nic(-1)]).apply.at(-1), { path: '/machine/peripheral/nic0', bootindex: 0 });
  assert.equal(bootOverridePlan([nic(4, '/a'), nic(2, '/b'), disk(3)]).nic, '/b');
});

test('bootOverridePlan: no NIC is BMC_REJECTED', () => {
  assert.throws(() => bootOverridePlan([disk(1)]), (err: unknown) => isSwarmbootError(err, 'BMC_REJECTED'));
  assert.throws(() => bootOverridePlan([]), (err: unknown) => isSwarmbootError(err, 'BMC_REJECTED'));
});
