import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSwarmbootError } from '@swarmboot/contracts';
import { formatRfc5424, MAX_SYSLOG_BYTES, parseSyslog, type ParsedSyslog, type SyslogMalformedReason } from '../src/protocol/syslog.js';

// A fixed "now" so RFC 3164 years are deterministic.
const NOW = new Date('2024-03-06T12:00:00Z');
const parse = (s: string | Buffer): ParsedSyslog => parseSyslog(typeof s === 'string' ? Buffer.from(s, 'utf8') : s, NOW);

function reasonOf(input: string | Buffer): SyslogMalformedReason | 'parsed' {
  try {
    parse(input);
    return 'parsed';
  } catch (err) {
    assert.ok(isSwarmbootError(err, 'SYSLOG_MALFORMED'), `unexpected error ${String(err)}`);
    return err.context['reason'] as SyslogMalformedReason;
  }
}

// ---- fixtures as real senders put them on the wire ---------------------------------------------

/** RFC 5424 fixtures: the RFC's own examples, util-linux logger, systemd-netlogd, rsyslog. */
const RFC5424 = {
  // RFC 5424 §6.5 example 1 (with BOM before MSG)
  rfcExample1: Buffer.concat([Buffer.from('<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - '), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("'su root' failed for lonvick on /dev/pts/8")]),
  // RFC 5424 §6.5 example 4: two SD elements, no MSG
  rfcExample4: '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]',
  // util-linux logger 2.38: logger --rfc5424 -d -t sbtest -p local3.err (captured on this machine)
  utilLinux: '<155>1 2026-11-20T22:52:41.593050+00:00 vm sbtest - - [timeQuality tzKnown="1" isSynced="0"] hello from logger 5424',
  // systemd-netlogd forwarding the journal
  netlogd: '<30>1 2024-03-05T10:11:12.345678+00:00 node-17 systemd 1 - - Started ssh.service - OpenBSD Secure Shell server.\n',
  // rsyslog RSYSLOG_SyslogProtocol23Format from an installed node
  rsyslog: '<86>1 2024-03-05T10:15:00.120+01:00 n-0042.rack3.lab sshd 1834 - - pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)',
};

/** RFC 3164 fixtures: Debian installer (busybox syslogd -R forwards glibc syslog(3) lines raw, no HOSTNAME), busybox klogd, rsyslog/systemd. */
const RFC3164 = {
  diMainMenu: "<13>Mar  5 10:11:12 main-menu[283]: INFO: Menu item 'netcfg' selected\n",
  diHotplug: '<14>Mar  5 10:11:13 net/hw-detect.hotplug: Detected hotpluggable network interface enp1s0\n',
  diPartman: '<13>Mar  5 10:11:20 partman:   No matching physical volumes found\n',
  diInTarget: '<11>Mar  5 10:40:02 in-target: E: Unable to locate package openssh-serverr\n',
  diAnna: '<30>Mar  5 10:11:14 anna[411]: DEBUG: retrieving libc6-udeb 2.36-9+deb12u4\n',
  klogd: '<6>Mar  5 10:10:58 kernel: [    3.141592] EXT4-fs (vda1): mounted filesystem with ordered data mode.\n',
  // busybox/older klogd without a timestamp: the lenient form `<PRI>TAG: msg`
  lenientKernel: '<4>kernel: [   12.000001] r8169 0000:02:00.0 enp2s0: Link is Down',
  lenientNoTag: '<13>udhcpc: started, v1.36.1',
  // rsyslog forwarding a systemd line (traditional format, with HOSTNAME)
  rsyslog: '<30>Mar  5 10:11:12 node-17 systemd[1]: Started ssh.service - OpenBSD Secure Shell server.',
  // util-linux logger --rfc3164 (captured on this machine)
  utilLinux: '<28>Nov 20 22:52:41 vm sbtest: hello from logger 3164',
  // rsyslog high-precision timestamp in the BSD slot
  isoStamp: '<13>2024-01-02T03:04:05.123456+01:00 node-3 cloud-init[812]: Cloud-init v. 23.1 finished',
  // no tag at all
  bare: '<13>just some text',
};

test('RFC 5424 §6.5 example 1: header fields, NILVALUE PROCID/SD, BOM stripped', () => {
  const m = parse(RFC5424.rfcExample1);
  assert.equal(m.format, 'rfc5424');
  assert.equal(m.facility, 4); // auth
  assert.equal(m.severity, 2); // crit
  assert.equal(m.timestamp, '2003-10-11T22:14:15.003Z');
  assert.equal(m.hostname, 'mymachine.example.com');
  assert.equal(m.app, 'su');
  assert.equal(m.procId, undefined);
  assert.equal(m.msgId, 'ID47');
  assert.deepEqual(m.structuredData, []);
  assert.equal(m.message, "'su root' failed for lonvick on /dev/pts/8");
});

test('RFC 5424 §6.5 example 4: two SD elements and no MSG', () => {
  const m = parse(RFC5424.rfcExample4);
  assert.equal(m.facility, 20); // local4
  assert.equal(m.severity, 5);
  assert.equal(m.procId, undefined);
  assert.deepEqual(m.structuredData, [
    {
      id: 'exampleSDID@32473',
      params: [
        { name: 'iut', value: '3' },
        { name: 'eventSource', value: 'Application' },
        { name: 'eventID', value: '1011' },
      ],
    },
    { id: 'examplePriority@32473', params: [{ name: 'class', value: 'high' }] },
  ]);
  assert.equal(m.message, '');
});

test('RFC 5424 from util-linux logger, systemd-netlogd and rsyslog', () => {
  const logger = parse(RFC5424.utilLinux);
  assert.deepEqual(
    { facility: logger.facility, severity: logger.severity, hostname: logger.hostname, app: logger.app, message: logger.message },
    { facility: 19, severity: 3, hostname: 'vm', app: 'sbtest', message: 'hello from logger 5424' },
  );
  assert.deepEqual(logger.structuredData, [{ id: 'timeQuality', params: [{ name: 'tzKnown', value: '1' }, { name: 'isSynced', value: '0' }] }]);

  const netlogd = parse(RFC5424.netlogd);
  assert.equal(netlogd.procId, '1');
  assert.equal(netlogd.timestamp, '2024-03-05T10:11:12.345678+00:00');
  assert.equal(netlogd.message, 'Started ssh.service - OpenBSD Secure Shell server.', 'trailing LF is not part of MSG');

  const rs = parse(RFC5424.rsyslog);
  assert.equal(rs.facility, 10); // authpriv
  assert.equal(rs.severity, 6);
  assert.equal(rs.hostname, 'n-0042.rack3.lab');
  assert.equal(rs.procId, '1834');
  assert.equal(rs.message, 'pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)');
});

test('RFC 5424 §6.3.3 PARAM-VALUE escapes: \\" \\\\ \\] unescaped, other backslashes kept, UTF-8 values', () => {
  const m = parse('<13>1 - - - - - [x@1 a="q\\"uote" b="back\\\\slash" c="br\\]acket" d="C:\\dir" e="grüße" a="again"] msg');
  assert.deepEqual(m.structuredData[0]?.params, [
    { name: 'a', value: 'q"uote' },
    { name: 'b', value: 'back\\slash' },
    { name: 'c', value: 'br]acket' },
    { name: 'd', value: 'C:\\dir' },
    { name: 'e', value: 'grüße' },
    { name: 'a', value: 'again' },
  ]);
  assert.equal(m.message, 'msg');
  assert.equal(m.timestamp, undefined);
  assert.equal(m.hostname, undefined);
  assert.equal(m.app, undefined);
});

test('RFC 5424: an unescaped ] inside a quoted value is tolerated', () => {
  const m = parse('<13>1 - h a - - [x@1 v="a]b"] text');
  assert.equal(m.structuredData[0]?.params[0]?.value, 'a]b');
  assert.equal(m.message, 'text');
});

test('RFC 3164 from the Debian installer (busybox syslogd -R: no HOSTNAME)', () => {
  const menu = parse(RFC3164.diMainMenu);
  assert.deepEqual(
    { format: menu.format, facility: menu.facility, severity: menu.severity, timestamp: menu.timestamp, hostname: menu.hostname, app: menu.app, procId: menu.procId, message: menu.message },
    { format: 'rfc3164', facility: 1, severity: 5, timestamp: '2024-03-05T10:11:12', hostname: undefined, app: 'main-menu', procId: '283', message: "INFO: Menu item 'netcfg' selected" },
  );
  const hotplug = parse(RFC3164.diHotplug);
  assert.equal(hotplug.app, 'net/hw-detect.hotplug');
  assert.equal(hotplug.hostname, undefined);
  assert.equal(hotplug.message, 'Detected hotpluggable network interface enp1s0');
  assert.equal(parse(RFC3164.diPartman).message, '  No matching physical volumes found', 'indentation after "TAG: " is content');
  const inTarget = parse(RFC3164.diInTarget);
  assert.equal(inTarget.severity, 3);
  assert.equal(inTarget.app, 'in-target');
  assert.equal(inTarget.message, 'E: Unable to locate package openssh-serverr');
  const anna = parse(RFC3164.diAnna);
  assert.equal(anna.facility, 3);
  assert.equal(anna.severity, 6);
  assert.equal(anna.procId, '411');
});

test('RFC 3164 kernel lines from klogd, with and without timestamp', () => {
  const k = parse(RFC3164.klogd);
  assert.equal(k.facility, 0);
  assert.equal(k.severity, 6);
  assert.equal(k.app, 'kernel');
  assert.equal(k.timestamp, '2024-03-05T10:10:58');
  assert.equal(k.message, '[    3.141592] EXT4-fs (vda1): mounted filesystem with ordered data mode.');
  const lenient = parse(RFC3164.lenientKernel);
  assert.equal(lenient.severity, 4);
  assert.equal(lenient.timestamp, undefined);
  assert.equal(lenient.hostname, undefined, 'RFC 3164 §4.3.2: no TIMESTAMP, so no HOSTNAME either');
  assert.equal(lenient.app, 'kernel');
  assert.equal(lenient.message, '[   12.000001] r8169 0000:02:00.0 enp2s0: Link is Down');
  const udhcpc = parse(RFC3164.lenientNoTag);
  assert.equal(udhcpc.app, 'udhcpc');
  assert.equal(udhcpc.message, 'started, v1.36.1');
});

test('RFC 3164 with HOSTNAME (rsyslog, util-linux logger), ISO timestamp, and no tag', () => {
  const rs = parse(RFC3164.rsyslog);
  assert.deepEqual([rs.hostname, rs.app, rs.procId, rs.severity, rs.facility], ['node-17', 'systemd', '1', 6, 3]);
  assert.equal(rs.message, 'Started ssh.service - OpenBSD Secure Shell server.');
  const logger = parse(RFC3164.utilLinux);
  assert.deepEqual([logger.hostname, logger.app, logger.facility, logger.severity, logger.message], ['vm', 'sbtest', 3, 4, 'hello from logger 3164']);
  assert.equal(logger.timestamp, '2023-11-20T22:52:41', 'a November stamp received in March is last year');
  const iso = parse(RFC3164.isoStamp);
  assert.deepEqual([iso.timestamp, iso.hostname, iso.app, iso.procId], ['2024-01-02T03:04:05.123456+01:00', 'node-3', 'cloud-init', '812']);
  const bare = parse(RFC3164.bare);
  assert.equal(bare.app, undefined);
  assert.equal(bare.message, 'just some text');
});

test('RFC 3164: an invalid date is content, not a timestamp', () => {
  const m = parse('<13>Foo 45 99:99:99 host tag: x');
  assert.equal(m.timestamp, undefined);
  assert.equal(m.hostname, undefined);
  assert.equal(m.message, 'Foo 45 99:99:99 host tag: x');
});

test('PRI → facility and severity over the whole range 0..191', () => {
  for (let pri = 0; pri <= 191; pri++) {
    const m = parse(`<${pri}>x`);
    assert.equal(m.facility, Math.floor(pri / 8));
    assert.equal(m.severity, pri % 8);
    assert.ok(m.facility <= 23 && m.severity <= 7);
  }
  assert.equal(parse('<013>x').severity, 5, 'leading zeros are tolerated');
});

test('bytes that are not UTF-8 become U+FFFD, in both formats', () => {
  const bad = Buffer.from([0xff, 0xfe, 0x41, 0xc3]); // invalid, invalid, 'A', truncated 2-byte sequence
  const m3164 = parse(Buffer.concat([Buffer.from('<13>tag: '), bad]));
  assert.equal(m3164.message, '\ufffd\ufffdA\ufffd');
  const m5424 = parse(Buffer.concat([Buffer.from('<13>1 - - - - - - '), bad]));
  assert.equal(m5424.message, '\ufffd\ufffdA\ufffd');
  const sd = parse(Buffer.concat([Buffer.from('<13>1 - - - - - [x@1 v="'), bad, Buffer.from('"]')]));
  assert.equal(sd.structuredData[0]?.params[0]?.value, '\ufffd\ufffdA\ufffd');
});

test('malformed datagrams: each refusal names its reason', () => {
  const cases: [string | Buffer, SyslogMalformedReason][] = [
    [Buffer.alloc(0), 'empty'],
    [Buffer.alloc(MAX_SYSLOG_BYTES + 1, 0x41), 'oversized'],
    ['GET / HTTP/1.1\r\n', 'no_pri'],
    ['Mar  5 10:11:12 host tag: no PRI', 'no_pri'],
    [Buffer.from([0x00, 0x01, 0x02]), 'no_pri'],
    ['<', 'bad_pri'],
    ['<>x', 'bad_pri'],
    ['<13', 'bad_pri'],
    ['<1234>x', 'bad_pri'],
    ['<192>x', 'bad_pri'],
    ['<-1>x', 'bad_pri'],
    ['<ab>x', 'bad_pri'],
    ['<13>', 'truncated'],
    ['<13>\n', 'truncated'],
    ['<13>1 ', 'truncated'],
    ['<13>1 - - - - -', 'truncated'],
    ['<13>1 - - - - - [x@1', 'truncated'],
    ['<13>1 - - - - - [x@1 a="open', 'truncated'],
    ['<13>1 2024-13-01T00:00:00Z - - - - -', 'bad_header'],
    ['<13>1 2024-01-01 - - - - -', 'bad_header'],
    ['<13>1 -  - - - -', 'bad_header'],
    [`<13>1 - - ${'a'.repeat(49)} - - -`, 'bad_header'],
    [Buffer.from('<13>1 - h\xe9 - - - -', 'latin1'), 'bad_header'],
    ['<13>1 - - - - - x', 'bad_structured_data'],
    ['<13>1 - - - - - -x', 'bad_structured_data'],
    ['<13>1 - - - - - [x@1 a=b]', 'bad_structured_data'],
    ['<13>1 - - - - - [x@1 a]', 'bad_structured_data'],
    ['<13>1 - - - - - []', 'bad_structured_data'],
    ['<13>1 - - - - - [x@1]x', 'bad_structured_data'],
  ];
  for (const [input, reason] of cases) assert.equal(reasonOf(input), reason, `input ${JSON.stringify(input.toString())}`);
  assert.equal(reasonOf(Buffer.alloc(MAX_SYSLOG_BYTES, 0x41).fill('<13>', 0, 4)), 'parsed', 'exactly 64 KiB is accepted');
});

const ALL_FIXTURES: Buffer[] = [...Object.values(RFC5424), ...Object.values(RFC3164)].map((f) => (typeof f === 'string' ? Buffer.from(f) : f));

test('every prefix of every fixture parses or throws SYSLOG_MALFORMED (truncated input)', () => {
  let refused = 0;
  for (const fixture of ALL_FIXTURES) {
    for (let len = 0; len <= fixture.length; len++) if (reasonOf(fixture.subarray(0, len)) !== 'parsed') refused++;
  }
  assert.ok(refused > 0);
});

test('byte-by-byte robustness: every byte of every fixture replaced by each of 0x00 < > [ ] " \\ SP 0xff, and deleted', () => {
  const specials = [0x00, 0x3c, 0x3e, 0x5b, 0x5d, 0x22, 0x5c, 0x20, 0x0a, 0xff, 0x31, 0x2d];
  let parsed = 0;
  let refused = 0;
  for (const fixture of ALL_FIXTURES) {
    for (let i = 0; i < fixture.length; i++) {
      for (const b of specials) {
        const mutated = Buffer.from(fixture);
        mutated[i] = b;
        if (reasonOf(mutated) === 'parsed') parsed++;
        else refused++;
      }
      const deleted = Buffer.concat([fixture.subarray(0, i), fixture.subarray(i + 1)]);
      if (reasonOf(deleted) === 'parsed') parsed++;
      else refused++;
    }
  }
  assert.ok(parsed > 0 && refused > 0, `parsed ${parsed}, refused ${refused}`);
});

test('random datagrams (seeded) never throw anything but SYSLOG_MALFORMED, and parsed ones are in range', () => {
  let seed = 0x5eed;
  const rand = (): number => {
    // xorshift32: deterministic, so a failure reproduces
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x100000000;
  };
  const alphabet = Buffer.from('<>[]"\\ =-1:0123456789TZ.abcAZ\n\u00e9');
  for (let i = 0; i < 20000; i++) {
    const len = Math.floor(rand() * 80);
    const buf = Buffer.alloc(len);
    for (let j = 0; j < len; j++) buf[j] = rand() < 0.5 ? alphabet[Math.floor(rand() * alphabet.length)]! : Math.floor(rand() * 256);
    if (rand() < 0.7 && len > 0) buf.write(rand() < 0.5 ? '<13>1 ' : '<165>', 0, 'latin1');
    try {
      const m = parseSyslog(buf, NOW);
      assert.ok(Number.isInteger(m.facility) && m.facility >= 0 && m.facility <= 23);
      assert.ok(Number.isInteger(m.severity) && m.severity >= 0 && m.severity <= 7);
      assert.equal(typeof m.message, 'string');
    } catch (err) {
      assert.ok(isSwarmbootError(err, 'SYSLOG_MALFORMED'), `input ${buf.toString('hex')} threw ${String(err)}`);
    }
  }
});

test('formatRfc5424 → parseSyslog round trip (ASCII, UTF-8 with BOM, sanitised header, cut to size)', () => {
  const at = new Date('2024-03-05T10:11:12.345Z');
  const ascii = formatRfc5424({ facility: 1, severity: 6, timestamp: at, hostname: 'node-9', app: 'swarmboot-agent', procId: '42', message: 'download 42%' });
  assert.equal(ascii.toString('latin1'), '<14>1 2024-03-05T10:11:12.345Z node-9 swarmboot-agent 42 - - download 42%');
  const utf8 = parse(formatRfc5424({ facility: 16, severity: 3, timestamp: at, hostname: 'n 9', app: '', message: 'écrit ✓' }));
  assert.deepEqual([utf8.facility, utf8.severity, utf8.hostname, utf8.app, utf8.message], [16, 3, 'n9', undefined, 'écrit ✓']);
  const long = formatRfc5424({ facility: 1, severity: 7, timestamp: at, hostname: 'h', app: 'a', message: 'é'.repeat(5000) }, 300);
  assert.ok(long.length <= 300);
  const cut = parse(long);
  assert.ok(/^é+$/.test(cut.message), 'cut on a character boundary');
  assert.throws(() => formatRfc5424({ facility: 1, severity: 8, timestamp: at, hostname: 'h', app: 'a', message: '' }), (e: unknown) => isSwarmbootError(e, 'SYSLOG_INVALID'));
});
