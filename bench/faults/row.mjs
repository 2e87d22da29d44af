// One markdown row of bench/faults (docs/faults.md) from run.mjs's JSON line:
//   node row.mjs '<json>'      node row.mjs --header
const arg = process.argv[2];
if (arg === '--header') {
  console.log('| fault | seed | moment (s after the first node left booting; nodes installed then) | what | installed | addresses leased twice (store / facts) | timelines ok | stream gaps | facts lost | wall s | load (1 min) at start → end |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
} else {
  const r = JSON.parse(arg);
  const i = r.injected ?? {};
  const moment = i.sinceWindowS === undefined ? '-' : `${i.sinceWindowS.toFixed(1)} (${i.installedBefore}/${r.n})`;
  const what = (i.skipped ? `skipped: ${i.skipped}` : (i.what ?? 'not injected')) + (r.unexpectedExits?.length ? `; NOT the harness: ${r.unexpectedExits.join(', ')}` : '');
  const failed = (r.failed.length ? ` (failed: ${r.failed.join('; ')})` : '') + (r.deployment.state === 'completed' ? '' : ` (deployment ${r.deployment.state} at the deadline)`);
  console.log(
    `| ${r.fault} | ${r.seed} | ${moment} | ${what} | ${r.installed}/${r.n}${failed} | ${r.leases.storeDoubled.length + r.leases.holderMismatch.length} / ${r.leases.factsDoubled.length} ` +
      `| ${r.timelines.ok}/${r.n} | ${r.stream.gaps.length} | ${r.stream.factsLostNodes} | ${r.wallS} | ${r.load ? r.load.join(' → ') : '-'} |`,
  );
}
