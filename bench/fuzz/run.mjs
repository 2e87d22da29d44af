// One codec's fuzz suite at a given size: node bench/fuzz/run.mjs CODEC CASES SEED (see run.sh);
// PROPERTY=text in the environment runs only the properties whose names contain it.
// Prints one line per property and a summary line `fuzz CODEC cases=N crashes=N seed=S ms=T`;
// exits 1 when a property failed (its counterexample is printed).
import { runFuzzSuite } from '../../packages/testkit/dist/src/index.js';

const SUITES = {
  dhcp: ['../../services/dhcp/dist/test/fuzz/dhcp-fuzz-suite.js', 'dhcpFuzz'],
  tftp: ['../../services/tftp/dist/test/fuzz/tftp-fuzz-suite.js', 'tftpFuzz'],
  syslog: ['../../services/logsink/dist/test/fuzz/syslog-fuzz-suite.js', 'syslogFuzz'],
  netconsole: ['../../services/logsink/dist/test/fuzz/netconsole-fuzz-suite.js', 'netconsoleFuzz'],
  tracker: ['../../services/tracker/dist/test/fuzz/tracker-fuzz-suite.js', 'trackerFuzz'],
  torrent: ['../../services/seeder/dist/test/fuzz/torrent-fuzz-suite.js', 'torrentFuzz'],
  'node-csv': ['../../services/scheduler/dist/test/fuzz/node-csv-fuzz-suite.js', 'nodeCsvFuzz'],
};

const [codec, cases, seed] = process.argv.slice(2);
const entry = SUITES[codec ?? ''];
if (!entry || !Number.isInteger(Number(cases)) || !Number.isInteger(Number(seed))) {
  console.error(`usage: run.mjs {${Object.keys(SUITES).join('|')}} CASES SEED`);
  process.exit(2);
}
const all = (await import(entry[0]))[entry[1]];
// PROPERTY: only the properties whose name contains it (to finish or replay one property); CASES
// then go to those alone
const only = process.env.PROPERTY;
const suite = only
  ? {
      ...all,
      async open() {
        const opened = await all.open();
        const properties = opened.properties.filter((p) => p.name.includes(only));
        if (properties.length === 0) throw new Error(`no ${codec} property names ${JSON.stringify(only)}: ${opened.properties.map((p) => p.name).join('; ')}`);
        return { ...opened, properties };
      },
    }
  : all;
const r = await runFuzzSuite(suite, { cases: Number(cases), seed: Number(seed), log: (m) => console.log(`  ${new Date().toISOString()} ${m}`) });
for (const p of r.properties) {
  console.log(`  ${p.crashes === 0 ? 'ok' : 'CRASH'} ${p.cases} cases: ${p.name}`);
  if (p.failure) console.log(p.failure.replace(/^/gm, '    '));
}
console.log(`fuzz ${r.codec} cases=${r.cases} crashes=${r.crashes} seed=${r.seed} ms=${r.ms}`);
process.exit(r.crashes === 0 ? 0 : 1);
