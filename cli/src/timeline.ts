import type { LogLine, TimelineEntry } from '@swarmboot/contracts';

/** `12.3 MB` (SI, as rates are usually given). */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** Control characters of what nodes sent shown as `\xNN`, so a log line cannot move the cursor or recolour the terminal. */
export function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A log line as one text line: `<severity> app: message` (netconsole lines are the kernel's). */
export function formatLogLine(line: LogLine | string): string {
  if (typeof line === 'string') return printable(line);
  return printable(`<${line.severity}> ${line.app ?? (line.format === 'netconsole' ? 'kernel' : '-')}: ${line.message}`);
}

/** What a timeline entry says, in one line (as sent: pass it through `printable` before a terminal). */
export function describeEntry(e: TimelineEntry): string {
  switch (e.source) {
    case 'state':
      return `${e.from ? `${e.from} -> ` : ''}${e.to}${e.deploymentId ? ` (${e.deploymentId})` : ''}${e.reason ? `: ${e.reason}` : ''}`;
    case 'dhcp': {
      const l = e.lease;
      return `lease ${l.yiaddr} to ${l.chaddr} for ${l.leaseSeconds} s${l.giaddr !== '0.0.0.0' ? ` via relay ${l.giaddr}` : ''}${l.bootFile ? `, boot file ${l.bootFile}` : ''}${l.userClass ? ` (${l.userClass})` : ''}`;
    }
    case 'tftp': {
      const t = e.transfer;
      return e.outcome === 'completed'
        ? `sent ${t.file} (${formatBytes(t.bytes)} in ${Math.round(t.durationMs)} ms, ${t.retransmissions} retransmissions)`
        : `transfer of ${t.file} failed after ${formatBytes(t.bytes)}${t.error ? `: ${t.error}` : ''}`;
    }
    case 'progress':
      return `${e.stage} ${e.total > 0 ? `${Math.floor((100 * e.bytes) / e.total)}% ` : ''}(${formatBytes(e.bytes)} of ${formatBytes(e.total)})${e.rate === undefined ? '' : ` at ${formatBytes(e.rate)}/s`}`;
    case 'failure':
      return `${e.failure.code} (rule ${e.failure.ruleId}, ${e.failure.severity}): ${e.failure.line}`;
    case 'power':
      switch (e.outcome) {
        case 'requested':
          return `${e.power.action} requested${e.power.reason ? ` (${e.power.reason})` : ''}`;
        case 'completed':
          return `${e.power.action} done by ${e.power.driver} in ${Math.round(e.power.durationMs)} ms (${e.power.attempts} attempt${e.power.attempts === 1 ? '' : 's'}; was ${e.power.powerState})`;
        case 'failed':
          return `${e.power.action} failed after ${e.power.attempts} attempt${e.power.attempts === 1 ? '' : 's'}: ${e.power.code}: ${e.power.message}`;
      }
      break;
    case 'log':
      return formatLogLine(e.line);
  }
}

/** The timeline as a table: time (ISO 8601, UTC), source, what. */
export function formatTimeline(entries: readonly TimelineEntry[]): string {
  const rows = entries.map((e) => [e.at, e.source, printable(describeEntry(e))] as const);
  const w = [24, Math.max(6, ...rows.map((r) => r[1].length))];
  const line = (r: readonly [string, string, string]) => `${r[0].padEnd(w[0]!)}  ${r[1].padEnd(w[1]!)}  ${r[2]}\n`;
  return line(['TIME', 'SOURCE', 'WHAT']) + rows.map(line).join('');
}
