import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, type ErrorCode, type LogLine } from '@swarmboot/contracts';
import { classifyLine, loadFailureRules, type FailureRule } from '../src/domain/failure-rules.js';

/**
 * Real log lines of VM boots through the whole stack (test/fixtures/README.md says how each was
 * captured): what the log sink stored for the node, one JSON LogLine a line, in arrival order.
 */
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));

function fixture(name: string): LogLine[] {
  return readFileSync(`${FIXTURES}${name}`, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as LogLine);
}

/**
 * What the sink makes of a boot's lines (app.ts handleLine → classifyLine, then one claim per
 * attempt and kind): the first line matching a failure rule (severity critical or error) and the
 * first matching a warning rule.
 */
function classifyBoot(rules: readonly FailureRule[], lines: readonly LogLine[]): { failure?: { rule: FailureRule; line: LogLine }; warning?: { rule: FailureRule; line: LogLine } } {
  const out: ReturnType<typeof classifyBoot> = {};
  for (const line of lines) {
    const rule = classifyLine(rules, line);
    if (rule === undefined) continue;
    const kind = rule.severity === 'warning' ? 'warning' : 'failure';
    out[kind] ??= { rule, line };
  }
  return out;
}

/**
 * The VM's serial console of the same boot, seen on the machine itself: its lines (the kernel's
 * among them) and the `msg` of the agent's JSON log lines.
 */
function consoleTexts(name: string): Set<string> {
  const lines = readFileSync(`${FIXTURES}${name}`, 'utf8').split('\n').map((l) => l.trim());
  const msgs = lines.filter((l) => l.startsWith('{"')).map((l) => (JSON.parse(l) as { msg?: string }).msg ?? '');
  return new Set([...lines, ...msgs]);
}

const rules = loadFailureRules();

/** Each broken boot: the reason code it must get, the rule, and a piece of the line that gives it. */
const BROKEN: { file: string; code: ErrorCode; rule: string; line: RegExp }[] = [
  { file: 'vm-corrupt-image.jsonl', code: 'IMAGE_CORRUPT', rule: 'checksum-mismatch', line: /^install failed: IMAGE_CORRUPT: sha256 [0-9a-f]{64} != catalog [0-9a-f]{64}$/ },
  { file: 'vm-small-disk.jsonl', code: 'DISK_TOO_SMALL', rule: 'disk-too-small', line: /^install failed: DISK_TOO_SMALL: / },
  // mm/oom_kill.c check_panic_on_oom(): panic("Out of memory: %s panic_on_oom is enabled\n", "system-wide")
  // mm/oom_kill.c __oom_kill_process(): "%s: Killed process %d (%s) total-vm:%lukB, …" — the agent (node), so /init reports AGENT_EXITED: exit 137 after it
  { file: 'vm-low-memory.jsonl', code: 'OUT_OF_MEMORY', rule: 'oom-kill', line: /^\[\s*[\d.]+\] Out of memory: Killed process \d+ \(node\) total-vm:/ },
  { file: 'vm-kernel-panic.jsonl', code: 'KERNEL_PANIC', rule: 'kernel-panic', line: /^\[\s*[\d.]+\] Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled$/ },
];

test('the good VM boot classifies nothing: no failure, no warning', () => {
  const lines = fixture('vm-good-install.jsonl');
  assert.ok(lines.some((l) => l.format === 'netconsole') && lines.some((l) => l.format === 'rfc5424'), 'kernel and agent lines both');
  assert.ok(lines.some((l) => /^installed /.test(l.message)), 'the boot did install');
  const got = classifyBoot(rules, lines);
  assert.equal(got.failure, undefined, `failure: ${got.failure?.rule.id}: ${got.failure?.line.message}`);
  assert.equal(got.warning, undefined, `warning: ${got.warning?.rule.id}: ${got.warning?.line.message}`);
});

for (const b of BROKEN) {
  test(`${b.file}: the broken boot gets ${b.code} from rule ${b.rule}`, () => {
    const got = classifyBoot(rules, fixture(b.file));
    assert.ok(got.failure, 'a failure rule matched');
    assert.equal(got.failure.rule.code, b.code);
    assert.equal(got.failure.rule.id, b.rule);
    assert.ok(Object.hasOwn(ErrorCodes, got.failure.rule.code));
    assert.match(got.failure.line.message, b.line);
    // the console of the same boot shows the line the sink classified
    assert.ok(consoleTexts(b.file.replace(/\.jsonl$/, '.console.txt')).has(got.failure.line.message.trim()), 'the classified line is on the serial console too');
  });
}
