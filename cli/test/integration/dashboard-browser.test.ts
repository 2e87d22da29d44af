import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { runDemo } from '../../src/demo.js';
import { assetPaths } from '../../src/assets.js';

/**
 * Debian's chromium (scripts/install-deps.sh installs it); playwright-core drives it over CDP and
 * never downloads a browser of its own. SWARMBOOT_CHROMIUM names another binary.
 */
const CHROMIUM = process.env.SWARMBOOT_CHROMIUM ?? '/usr/bin/chromium';
/** With SWARMBOOT_SCREENSHOTS=DIR the test saves the pages there at 1280x800 (docs/img holds the README's). */
const SCREENSHOTS = process.env.SWARMBOOT_SCREENSHOTS;
const NODES = 10;

const skip = existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM}: scripts/install-deps.sh installs Debian's chromium (as root, where apt has it); SWARMBOOT_CHROMIUM names another`;

/** How many grid cells show `state`, read from the DOM. */
const cells = (page: Page, state: string) => page.locator(`.grid .cell[data-state="${state}"]`).count();

/**
 * The dashboard in a real browser during the emulated demo (10 agents through DHCP, TFTP, the
 * swarm and the log sink, the sample image): a node page opened before the agents start sees its
 * log lines arrive over SSE and its timeline fill; the fleet grid ends with every node's cell
 * installed, and a click on a cell opens that node's page.
 */
test('the dashboard shows an emulated demo of 10 nodes installing, in chromium', { skip, timeout: 240_000 }, async (t) => {
  // root (CI) cannot use chromium's user-namespace sandbox; the page is our own, served on loopback
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.after(() => browser.close());
  const seen = { live: '', timelineSources: [] as string[], installed: 0, legend: '' };

  const summary = await runDemo({
    nodes: NODES,
    image: assetPaths().sampleImage,
    say: (m) => t.diagnostic(m),
    observe: async ({ apiUrl, deploymentId, nodeIds }) => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const watched = nodeIds.at(-1)!;
      const nodePage = await context.newPage();
      await nodePage.goto(`${apiUrl}/ui/#/node/${watched}`);
      await nodePage.locator('[data-stream-state]', { hasText: 'live' }).waitFor({ timeout: 30_000 });
      const fleet = await context.newPage();
      await fleet.goto(`${apiUrl}/ui/`);

      // a line the agent sent after the page had its stream open
      const live = nodePage.locator('[data-log-lines] [data-live="true"]').first();
      await live.waitFor({ timeout: 120_000 });
      seen.live = (await live.textContent()) ?? '';

      // (string predicates: they run in the page, whose DOM types this Node project does not load)
      await fleet.waitForFunction(`document.querySelectorAll('.grid .cell[data-state="installed"]').length === ${NODES}`, undefined, { timeout: 150_000, polling: 250 });
      seen.installed = await cells(fleet, 'installed');
      seen.legend = (await fleet.locator('[data-legend="installed"]').textContent()) ?? '';
      // the deployments table follows on its next read (every 2 s)
      await fleet.locator(`tr[data-deployment="${deploymentId}"]`, { hasText: `${NODES}/${NODES} finished` }).waitFor({ timeout: 10_000 });

      // the timeline is read every 3 s, apart from the node's record: wait until it shows every
      // source of the boot (its log lines reach Redis through the log sink, after the state)
      const sources = ['dhcp', 'tftp', 'state', 'log'].map((s) => `document.querySelectorAll('[data-timeline] tr[data-source="${s}"]').length > 0`).join(' && ');
      await nodePage
        .waitForFunction(`${sources} && document.querySelector('[data-node-state]')?.textContent === 'installed'`, undefined, { timeout: 30_000 })
        .catch(() => undefined); // the assertions below name what is missing

      seen.timelineSources = await nodePage.locator('[data-timeline] tr').evaluateAll((rows) => [...new Set(rows.map((r) => r.getAttribute('data-source') ?? ''))]);

      if (SCREENSHOTS) {
        const dir = resolve(SCREENSHOTS);
        await mkdir(dir, { recursive: true });
        await fleet.screenshot({ path: join(dir, 'dashboard-fleet.png') });
        await nodePage.screenshot({ path: join(dir, 'dashboard-node.png') });
      }

      // hover shows the node, a click opens its page
      const first = fleet.locator(`.grid .cell[data-node="${nodeIds[0]!}"]`);
      assert.match((await first.getAttribute('title')) ?? '', new RegExp(`^${nodeIds[0]!} installed`));
      await first.click();
      await fleet.locator('h2', { hasText: `Node ${nodeIds[0]!}` }).waitFor({ timeout: 10_000 });
      await context.close();
    },
  });

  assert.equal(summary.installed, NODES);
  assert.equal(seen.installed, NODES, 'grid cells in the installed state');
  assert.match(seen.legend, new RegExp(`installed ${NODES}$`));
  assert.notEqual(seen.live.trim(), '', 'a live log line has text');
  for (const source of ['dhcp', 'tftp', 'state', 'log']) assert.ok(seen.timelineSources.includes(source), `timeline has ${source} entries: ${seen.timelineSources.join(', ')}`);
});
