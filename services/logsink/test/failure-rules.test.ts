import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCodes, isSwarmbootError, type LogLine } from '@swarmboot/contracts';
import { classifyLine, compileFailureRules, lineSource, loadFailureRules, SHIPPED_FAILURE_RULES } from '../src/domain/failure-rules.js';

type Line = Pick<LogLine, 'format' | 'facility' | 'message'>;
/** a kernel line as netconsole delivers it (facility kern) */
const kernel = (message: string): Line => ({ format: 'netconsole', facility: 0, message });
/** a kernel line a syslogd forwarded (RFC 3164, facility kern) */
const klog = (message: string): Line => ({ format: 'rfc3164', facility: 0, message });
/** a line of the agent (createSyslogSender: RFC 5424, facility user) */
const agent = (message: string): Line => ({ format: 'rfc5424', facility: 1, message });

const SHA_A = 'a'.repeat(63) + '1';
const SHA_B = 'b'.repeat(63) + '2';

/**
 * Real line formats per rule: positives must get the rule, near misses must not (they get another
 * rule or none). Kernel lines follow the printk format strings the rule file cites; agent lines
 * are what agent/src prints (`install failed: CODE: message`) and agent/bootenv/init's `log`.
 */
const SAMPLES: Record<string, { match: Line[]; miss: Line[] }> = {
  'kernel-panic': {
    match: [
      kernel('Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)'),
      kernel('[    2.318211] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100'),
      klog('---[ end Kernel panic - not syncing: Fatal exception in interrupt ]---'),
    ],
    miss: [kernel('Kernel command line: BOOTIF=01-52-54-00-12-34-56 panic=30 netconsole=@/,6666@10.0.0.1/'), agent('Kernel panic - not syncing: quoted by the agent')],
  },
  'kernel-oops': {
    match: [
      kernel('Oops: 0002 [#1] PREEMPT SMP NOPTI'),
      kernel('BUG: kernel NULL pointer dereference, address: 0000000000000008'),
      kernel('[   41.207310] BUG: unable to handle page fault for address: ffffc90000a3c000'),
      klog('BUG: soft lockup - CPU#1 stuck for 23s! [node:312]'),
    ],
    miss: [kernel('DEBUG: dwc2 reset done'), kernel('ACPI BIOS Error (bug): Could not resolve symbol [\\_SB.PCI0.SAT0], AE_NOT_FOUND (20220331/dswload2-162)')],
  },
  'oom-kill': {
    match: [
      kernel('Out of memory: Killed process 412 (node) total-vm:1183376kB, anon-rss:811232kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:2040kB oom_score_adj:0'),
      kernel('Memory cgroup out of memory: Killed process 977 (tar) total-vm:9432kB, anon-rss:1200kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:56kB oom_score_adj:0'),
      klog('Out of memory: Kill process 412 (node) score 902 or sacrifice child'),
    ],
    miss: [kernel('node invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0'), kernel('oom_reaper: reaped process 412 (node), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB')],
  },
  'io-error': {
    match: [
      kernel('blk_update_request: I/O error, dev sda, sector 2048 op 0x1:(WRITE) flags 0x800 phys_seg 1 prio class 0'),
      kernel('I/O error, dev nvme0n1, sector 1050624 op 0x1:(WRITE) flags 0x4000 phys_seg 32 prio class 2'),
      kernel('critical medium error, dev sdb, sector 4196352 op 0x0:(READ) flags 0x80700 phys_seg 1 prio class 2'),
      kernel('Buffer I/O error on dev sda1, logical block 0, async page read'),
      klog('end_request: I/O error, dev sdc, sector 0'),
    ],
    miss: [kernel('blk_update_request: operation not supported error, dev loop0, sector 0 op 0x9:(WRITE_ZEROES) flags 0x800 phys_seg 0 prio class 0'), agent('install failed: DISK_WRITE_FAILED: dd: error writing /dev/sda: I/O error, dev unknown')],
  },
  'ext4-error': {
    match: [
      kernel('EXT4-fs error (device sda1): ext4_find_entry:1455: inode #2: comm ls: reading directory lblock 0'),
      kernel('EXT4-fs error (device nvme0n1p3): ext4_validate_block_bitmap:390: comm tar: bg 12: bad block bitmap checksum'),
    ],
    miss: [
      kernel('EXT4-fs (sda3): mounted filesystem 8c3e9a4b-7d1f-4c2a-9e0b-2f6d1a7c5e33 r/w with ordered data mode. Quota mode: none.'),
      kernel('EXT4-fs warning (device sda3): ext4_end_bio:343: I/O error 10 writing to inode 12 starting block 345)'),
    ],
  },
  'no-dhcp-lease': {
    match: [
      kernel('swarmboot: FAILED: NO_DHCP_LEASE: no DHCP offer on eth0 (52:54:00:12:34:56) after 3 attempts [t=41.37s]'),
      agent('install failed: DHCP_TIMEOUT: no DISCOVER reply from 10.0.0.1:67 after 4 transmissions'),
    ],
    miss: [agent('swarmboot: no DHCP lease on eth0 (attempt 1) [t=14.20s]'), agent('swarmboot: DHCP lease 10.0.0.23/255.255.255.0 on eth0 from 10.0.0.1 (router none, dns none) [t=3.02s]')],
  },
  'boot-timeout': {
    match: [
      klog('http://10.0.0.1:8080/v1/bootenv/initrd.img... Connection timed out (https://ipxe.org/4c0a6035)'),
      agent('install failed: TFTP_TIMEOUT: undionly.kpxe: no answer from 10.0.0.1:69 after 5 retransmissions'),
      agent('install failed: API_UNREACHABLE: GET http://10.0.0.1:8080/v1/nodes/n-001/manifest: The operation was aborted due to timeout'),
    ],
    miss: [agent('ssh: connect to host 10.0.0.9 port 22: Connection timed out'), agent('install failed: API_UNREACHABLE: GET http://10.0.0.1:8080/v1/nodes/n-001/manifest: fetch failed')],
  },
  'checksum-mismatch': {
    match: [agent(`install failed: IMAGE_CORRUPT: sha256 ${SHA_A} != catalog ${SHA_B}`)],
    miss: [agent(`sha256 verified: ${SHA_A}`), kernel(`IMAGE_CORRUPT: sha256 ${SHA_A} != catalog ${SHA_B}`)],
  },
  'disk-too-small': {
    match: [
      agent('install failed: DISK_TOO_SMALL: /dev/sda has 2147483648 bytes; image debian-12-bootable needs 4294967296'),
      agent('install failed: DISK_TOO_SMALL: the largest candidate disk has 1073741824 bytes, the image needs 2147483648'),
    ],
    miss: [agent('disk /dev/sda: 8589934592 bytes, serial QM00001'), agent('install failed: DISK_NOT_FOUND: no block disk')],
  },
  'swarm-stalled': {
    match: [agent('swarm stalled: no bytes for 11 s; adding the web seed')],
    miss: [agent('image downloaded in 5230 ms: 0 bytes from peers, 0 from the seeder, 104857600 from the web seed'), agent('downloading image debian-12 (rootfs-tar, 104857600 bytes, infohash 0123456789abcdef0123456789abcdef01234567)')],
  },
  'agent-crash': {
    match: [
      agent("install failed: AGENT_ERROR: Cannot read properties of undefined (reading 'length')"),
      kernel('node[412]: segfault at 0 ip 00005581c2b4e1a0 sp 00007ffd3c1e7f50 error 4 in node[5581c1e00000+2c4f000] likely on CPU 1 (core 1, socket 0)'),
      kernel('[   88.120913] traps: node[412] general protection fault ip:55d5c2b4e1a0 sp:7ffd3c1e7f50 error:0 in node[55d5c1e00000+2c4f000]'),
    ],
    miss: [agent('install failed: DISK_WRITE_FAILED: mkfs.ext4 exited with 1'), kernel('systemd-udevd[212]: segfault at 0 ip 00007f0c error 4 in libc.so.6')],
  },
};

const rules = loadFailureRules();

test('the shipped rule file validates, and every rule has samples here', () => {
  const again = loadFailureRules(SHIPPED_FAILURE_RULES);
  assert.deepEqual(again.map((r) => r.id), rules.map((r) => r.id));
  for (const rule of rules) assert.ok(Object.hasOwn(ErrorCodes, rule.code), `${rule.id}: ${rule.code} in ErrorCodes`);
  assert.deepEqual(rules.map((r) => r.id).sort(), Object.keys(SAMPLES).sort());
});

for (const [id, { match, miss }] of Object.entries(SAMPLES)) {
  test(`rule ${id}: its sample lines match it, the near misses do not`, () => {
    for (const line of match) assert.equal(classifyLine(rules, line)?.id, id, `${line.format}/${line.facility}: ${line.message}`);
    for (const line of miss) assert.notEqual(classifyLine(rules, line)?.id, id, `${line.format}/${line.facility}: ${line.message}`);
  });
}

test('the first rule in file order wins', () => {
  const both = compileFailureRules(
    {
      version: 1,
      rules: [
        { id: 'first', code: 'KERNEL_OOPS', severity: 'critical', pattern: 'BUG: ', description: 'a' },
        { id: 'second', code: 'KERNEL_PANIC', severity: 'critical', pattern: 'BUG: soft', description: 'b' },
      ],
    },
    'inline',
  );
  assert.equal(classifyLine(both, kernel('BUG: soft lockup - CPU#0 stuck for 22s!'))?.id, 'first');
});

test('lineSource: netconsole and facility kern are the kernel, everything else syslog', () => {
  assert.equal(lineSource({ format: 'netconsole', facility: 0 }), 'kernel');
  assert.equal(lineSource({ format: 'rfc3164', facility: 0 }), 'kernel');
  assert.equal(lineSource({ format: 'rfc5424', facility: 1 }), 'syslog');
  assert.equal(lineSource({ format: 'rfc3164', facility: 16 }), 'syslog');
});

test('ignoreCase makes a rule case-insensitive', () => {
  const [rule] = compileFailureRules({ version: 1, rules: [{ id: 'udhcpc', code: 'NO_DHCP_LEASE', severity: 'error', pattern: 'no lease, failing', ignoreCase: true, description: 'udhcpc gave up' }] }, 'inline');
  assert.ok(rule);
  assert.equal(classifyLine([rule], agent('udhcpc: No lease, failing'))?.id, 'udhcpc');
});

/** the CONFIG_INVALID message of a rule file that must not load */
function refused(doc: unknown): string {
  try {
    compileFailureRules(doc, '/etc/swarmboot/rules.yaml');
  } catch (err) {
    assert.ok(isSwarmbootError(err, 'CONFIG_INVALID'), String(err));
    assert.match(err.message, /^SWARMBOOT_FAILURE_RULES \(\/etc\/swarmboot\/rules\.yaml\)/);
    return err.message;
  }
  assert.fail('the rule file was accepted');
}

const ok = { id: 'x', code: 'KERNEL_PANIC', severity: 'critical', pattern: 'panic', description: 'd' };

test('a bad rule file is refused naming the variable, the file and the rule', () => {
  assert.match(refused({ version: 1, rules: [ok, { ...ok, id: 'bad-code', code: 'NOT_A_CODE' }] }), /rule "bad-code" \(#2\): code NOT_A_CODE is not in the ErrorCodes registry/);
  assert.match(refused({ version: 1, rules: [{ ...ok, id: 'bad-regex', pattern: '(unclosed' }] }), /rule "bad-regex" \(#1\): pattern is not a valid regular expression/);
  assert.match(refused({ version: 1, rules: [ok, ok] }), /rule "x" \(#2\): the id is used twice/);
  assert.match(refused({ version: 1, rules: [{ ...ok, id: 'all', pattern: '.*' }] }), /rule "all" \(#1\): pattern matches the empty line/);
  assert.match(refused({ version: 1, rules: [ok, { ...ok, id: 'sev', severity: 'fatal' }] }), /rule "sev" \(#2\): \/rules\/1\/severity/);
  assert.match(refused({ version: 1, rules: [{ ...ok, id: 'extra', regex: 'x' }] }), /rule "extra" \(#1\)/);
  assert.match(refused({ version: 2, rules: [ok] }), /\/version/);
  assert.match(refused({ version: 1, rules: [] }), /\/rules/);
});

test('loadFailureRules: an unreadable file or bad YAML is refused naming the variable and the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-rules-'));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'version: 1\nrules: [ {id: x\n');
  for (const path of [bad, join(dir, 'missing.yaml')]) {
    assert.throws(
      () => loadFailureRules(path),
      (err: unknown) => isSwarmbootError(err, 'CONFIG_INVALID') && err.message.startsWith(`SWARMBOOT_FAILURE_RULES (${path}): `),
    );
  }
  const json = join(dir, 'rules.json');
  writeFileSync(json, JSON.stringify({ version: 1, rules: [ok] }));
  assert.deepEqual(loadFailureRules(json).map((r) => r.code), ['KERNEL_PANIC']);
});
