// The dashboard at fleet scale, for the eye: a scheduler on fresh nats-server and redis-server
// (testkit), N nodes (default 1200) in one deployment, driven through the real API as agents would
// (boot script, reports) into a mix of states — some downloading, verifying, installed, and
// failed with a few reason codes, past the failure budget of 10 so the deployment pauses (all
// admitted at once: canary = window = N) — then Debian's chromium
// (playwright-core) takes the fleet page at 1280x800. Not a test: it asserts nothing, it draws.
//
//   npx tsc -b && node bench/dashboard/fleet.mjs [N] [OUT.png]
//     default OUT docs/img/dashboard-fleet-1200.png; SWARMBOOT_CHROMIUM names another browser
import { chromium } from 'playwright-core';
import { ImageCatalog, Registry, createLogger, parseConfig } from '@swarmboot/kit';
import { TEST_IMAGE, startBackends } from '@swarmboot/testkit';
import { SchedulerConfig, buildSchedulerApp } from '@swarmboot/scheduler';

const n = Number(process.argv[2] ?? 1200);
const out = process.argv[3] ?? 'docs/img/dashboard-fleet-1200.png';
const log = createLogger('dashboard-bench', 'warn');
const backends = await startBackends('dashboard-bench', log);
const app = buildSchedulerApp({ log, bus: backends.bus, redis: backends.redis, config: parseConfig(SchedulerConfig, {}), registry: new Registry() });
await app.listen({ host: '127.0.0.1', port: 0 });
const base = `http://127.0.0.1:${app.server.address().port}`;
try {
  await new ImageCatalog(backends.redis).put(TEST_IMAGE);
  const call = async (method, path, body) => {
    const res = await fetch(`${base}${path}`, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: await res.text() };
  };
  const mac = (i) => `52:54:00:${[(i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
  const nodes = Array.from({ length: n }, (_, i) => ({ id: `n-${String(i + 1).padStart(4, '0')}`, mac: mac(i + 1), labels: { rack: `r${Math.ceil((i + 1) / 40)}` } }));
  await call('POST', '/v1/nodes/import', { nodes });
  const dep = JSON.parse((await call('POST', '/v1/deployments', { image: TEST_IMAGE.name, selector: '*', target: 'emulated', canary: n, maxInFlight: n, failureBudget: 10 })).body);

  // where each node stops: mostly installed, a band downloading and verifying, a few failures
  const reasons = ['DISK_TOO_SMALL: 8 GB < 16 GB', 'IMAGE_CORRUPT: sha256 mismatch', 'AGENT_ERROR: exited 1', 'DISK_IO_ERROR: sda'];
  const plan = (i) => (i % 97 === 0 ? 'failed' : i < n * 0.6 ? 'installed' : i < n * 0.7 ? 'verifying' : i < n * 0.85 ? 'downloading' : 'booting');
  const drive = async (node, i) => {
    if ((await call('GET', `/v1/boot/${node.mac}`)).status !== 200) return;
    const report = (body) => call('POST', `/v1/nodes/${node.id}/report`, { deploymentId: dep.id, ...body });
    const last = plan(i);
    if (last === 'booting') return;
    await report({ stage: 'booted' });
    await report({ stage: 'downloading', bytes: Math.round(TEST_IMAGE.size * ((i % 10) / 10)), total: TEST_IMAGE.size });
    if (last === 'failed') return report({ stage: 'failed', reason: reasons[i % reasons.length] });
    if (last === 'downloading') return;
    await report({ stage: 'verifying' });
    if (last === 'installed') await report({ stage: 'installed' });
  };
  for (let i = 0; i < nodes.length; i += 32) await Promise.all(nodes.slice(i, i + 32).map((node, j) => drive(node, i + j)));

  const browser = await chromium.launch({ executablePath: process.env.SWARMBOOT_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const t0 = Date.now();
  await page.goto(`${base}/ui/`);
  await page.waitForFunction(`document.querySelectorAll('.grid .cell').length === ${n}`, undefined, { timeout: 60_000 });
  const drawnMs = Date.now() - t0;
  await page.screenshot({ path: out });
  const legend = await page.locator('.legend').textContent();
  console.log(`${out}: ${n} nodes drawn ${drawnMs} ms after navigation; ${legend}`);
  await browser.close();
} finally {
  await app.close();
  await backends.stop();
}
