// One markdown row of bench/admission (docs/benchmarks.md, "Issue 13"), from run.mjs's JSON line
// and the link's counters: node row.mjs '<json>' <sent> <lost> <queueDropped>
const [json, sent, lost, queued] = process.argv.slice(2);
const r = JSON.parse(json);
const n = (x) => Number(x).toLocaleString('en-US');
// the window of the last wave admitted by each 10 s since the first
const w = r.waves;
const last = w.length ? w[w.length - 1].t : 0;
const over = [];
for (let t = 0; t <= last + 10; t += 10) over.push(`${t}:${w.filter((x) => x.t <= t).at(-1)?.window ?? '-'}`);
console.log(
  `| ${r.label} | \`${JSON.stringify(r.deploy)}\` | ${r.makespanS === null ? '-' : r.makespanS.toFixed(1)} | ${r.installed} / ${r.failed} | ${n(r.tftp.retransmissions)} | ${r.tftp.failed} ` +
    `| ${r.boots} (${r.reboots}) | ${r.powerCycles} | ${r.pauses.length} | ${w.length} | ${over.join(' ')} | ${Math.round(r.tftp.sentBytes / 1e6)} | ${n(sent)} / ${n(lost)} / ${n(queued)} | ${r.machinesCpuS} |`,
);
