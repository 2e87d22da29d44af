// Checks the Grafana dashboard shipped with the chart (deploy/helm/swarmboot/dashboards/*.json)
// against the code: every swarmboot_* metric a panel queries is registered by some service (a
// prom-client `name: '...'` in services/, agent/ or packages/kit), every panel uses the
// dashboard's datasource variable, panel ids are unique, and, given promtool (Prometheus' own
// checker), every query parses as PromQL (each is checked as a recording rule, with Grafana's
// $__rate_interval replaced by 5m). Run by scripts/validate-deploy.sh; exits 1 naming what is
// wrong. Usage: node check-dashboard.mjs <repo root> [promtool]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = process.argv[2] ?? '.';
const promtool = process.argv[3];
const dir = join(root, 'deploy/helm/swarmboot/dashboards');

/** Every `name: 'swarmboot_…'` in the TypeScript sources under `dirs`. */
function registeredMetrics(dirs) {
  const names = new Set();
  const walk = (d) => {
    for (const e of readdirSync(d)) {
      if (e === 'node_modules' || e === 'dist' || e === 'test') continue;
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) for (const m of readFileSync(p, 'utf8').matchAll(/name: '(swarmboot_[a-z0-9_]+)'/g)) names.add(m[1]);
    }
  };
  dirs.forEach(walk);
  return names;
}

const registered = registeredMetrics(['services', 'agent', 'packages'].map((d) => join(root, d)));
const problems = [];
const rules = [];
let queried = 0;
for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
  const dash = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  if (!dash.templating?.list?.some((v) => v.type === 'datasource' && v.name === 'datasource')) problems.push(`${file}: no datasource variable named "datasource"`);
  const ids = new Set();
  for (const panel of dash.panels ?? []) {
    if (ids.has(panel.id)) problems.push(`${file}: panel id ${panel.id} twice`);
    ids.add(panel.id);
    if (panel.type === 'row') continue;
    if (panel.datasource?.uid !== '${datasource}') problems.push(`${file}: panel "${panel.title}" does not use \${datasource}`);
    for (const t of panel.targets ?? []) {
      rules.push({ record: `dashboard:panel${panel.id}_${t.refId}`, expr: t.expr.replaceAll('$__rate_interval', '5m') });
      for (const m of t.expr.matchAll(/\b(swarmboot_[a-z0-9_]+)/g)) {
        queried++;
        // a histogram's series carry suffixes its registered name does not
        const name = m[1].replace(/_(bucket|sum|count)$/, '');
        if (!registered.has(name)) problems.push(`${file}: panel "${panel.title}" queries ${m[1]}, which no service registers`);
      }
    }
  }
}
if (promtool) {
  // JSON is YAML: promtool reads the rule file as written
  const dir = mkdtempSync(join(tmpdir(), 'dashboard-'));
  try {
    writeFileSync(join(dir, 'rules.yml'), JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
    execFileSync(promtool, ['check', 'rules', join(dir, 'rules.yml')], { stdio: 'pipe' });
  } catch (err) {
    problems.push(`promtool check rules: ${err.stdout ?? ''}${err.stderr ?? err.message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`${rules.length} queries${promtool ? ' (PromQL checked by promtool)' : ''}, ${queried} metric references, all registered (${registered.size} swarmboot metrics in the code)`);
