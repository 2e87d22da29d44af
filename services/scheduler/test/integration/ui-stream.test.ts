import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { Events, RedisKeys, type Deployment, type LogLine } from '@swarmboot/contracts';
import { ImageCatalog } from '@swarmboot/kit';
import { waitFor } from '@swarmboot/testkit';
import { TEST_IMAGE, startScheduler } from './harness.js';

const MAC = '52:54:00:5e:00:01';

/** An SSE client over a real socket: the events so far (parsed by eventsource-parser, as a browser would), and how the stream ended. */
async function sse(url: string, headers: Record<string, string> = {}) {
  const ac = new AbortController();
  const res = await fetch(url, { headers, signal: ac.signal });
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e) });
  const ended = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body!) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
      return 'ended';
    } catch {
      return 'aborted';
    }
  })();
  return { res, events, ended, close: () => ac.abort(), named: (name: string) => events.filter((e) => e.event === name) };
}

/** What the log sink does with a line: XADD to the node's stream, then publish it on NATS. */
async function sinkLine(s: Awaited<ReturnType<typeof startScheduler>>, nodeId: string, message: string): Promise<string> {
  const line: LogLine = { nodeId, received: new Date().toISOString(), source: '10.0.0.9:514', format: 'rfc5424', facility: 1, severity: 6, app: 'agent', message };
  const id = await s.redis.xadd(RedisKeys.nodeLog(nodeId), 'MAXLEN', '~', '20000', '*', 'json', JSON.stringify(line));
  await s.bus.publish(Events.logLines, { nodeId, lines: [line] }, nodeId);
  return id!;
}

test('the dashboard files are served under /ui, preact+htm from node_modules', async (t) => {
  const { app } = await startScheduler(t, {});
  const bare = await app.inject({ method: 'GET', url: '/ui' });
  assert.equal(bare.statusCode, 302);
  assert.equal(bare.headers.location, '/ui/');
  const page = await app.inject({ method: 'GET', url: '/ui/' });
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.match(page.body, /<script type="module" src="\.\/app\.js">/);
  const appJs = await app.inject({ method: 'GET', url: '/ui/app.js' });
  assert.match(String(appJs.headers['content-type']), /javascript/);
  assert.match(appJs.body, /from '\.\/vendor\/htm-preact\.mjs'/);
  const vendor = await app.inject({ method: 'GET', url: '/ui/vendor/htm-preact.mjs' });
  assert.equal(vendor.statusCode, 200);
  assert.match(String(vendor.headers['content-type']), /javascript/);
  // the exports app.js imports are there
  for (const name of ['html', 'render', 'useState', 'useEffect', 'useMemo', 'useRef']) assert.match(vendor.body, new RegExp(`\\b${name}\\b`), name);
  assert.equal((await app.inject({ method: 'GET', url: '/ui/../package.json' })).statusCode, 404);
  const openapi = await app.inject({ method: 'GET', url: '/v1/openapi.json' });
  assert.ok(!Object.keys(openapi.json<{ paths: object }>().paths).some((p) => p.startsWith('/ui')), 'the dashboard is not part of the API document');
});

test('a node log stream sends the kept lines, then live ones, and resumes after Last-Event-ID', async (t) => {
  const s = await startScheduler(t, {});
  assert.equal((await s.json('POST', '/v1/nodes', { id: 'n1', mac: MAC })).status, 201);
  const kept = await sinkLine(s, 'n1', 'kept before the client came');

  const first = await sse(`${s.base}/v1/nodes/n1/logs/stream`);
  assert.equal(first.res.status, 200);
  assert.match(first.res.headers.get('content-type') ?? '', /^text\/event-stream/);
  await waitFor('ready', () => first.named('ready').length === 1);
  assert.deepEqual(first.named('line').map((e) => e.id), [kept]);

  const live = await sinkLine(s, 'n1', 'arrived while connected');
  await waitFor('the live line', () => first.named('line').length === 2);
  const got = first.named('line')[1]!;
  assert.equal(got.id, live);
  assert.equal((JSON.parse(got.data) as { line: LogLine }).line.message, 'arrived while connected');
  first.close();

  // what a browser's EventSource sends when it reconnects
  const again = await sse(`${s.base}/v1/nodes/n1/logs/stream`, { 'last-event-id': kept });
  await waitFor('ready after the resume', () => again.named('ready').length === 1);
  assert.deepEqual(again.named('line').map((e) => e.id), [live]);
  again.close();

  // ?after= does the same for clients that start at a known position
  const after = await sse(`${s.base}/v1/nodes/n1/logs/stream?after=${live}`);
  await waitFor('ready after ?after', () => after.named('ready').length === 1);
  assert.equal(after.named('line').length, 0);
  after.close();

  const missing = await fetch(`${s.base}/v1/nodes/nope/logs/stream`);
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { code: string }).code, 'NODE_NOT_FOUND');
});

test("the events stream forwards a deployment's state changes, and the app's close ends open streams", async (t) => {
  const s = await startScheduler(t, {});
  await new ImageCatalog(s.redis).put(TEST_IMAGE);
  assert.equal((await s.json('POST', '/v1/nodes', { id: 'e1', mac: MAC })).status, 201);
  const events = await sse(`${s.base}/v1/events/stream?access_token=opaque`);
  await waitFor('ready', () => events.named('ready').length === 1);
  const dep = await s.json<Deployment>('POST', '/v1/deployments', { image: TEST_IMAGE.name, nodes: ['e1'], target: 'emulated' });
  assert.equal(dep.status, 201);
  const states = await waitFor('state events of the deployment', () => {
    const got = events.named('state').map((e) => JSON.parse(e.data) as { nodeId: string; deploymentId?: string; to: string });
    return got.some((e) => e.to === 'admitted') ? got : undefined;
  });
  assert.ok(states.every((e) => e.nodeId === 'e1' && e.deploymentId === dep.body.id), JSON.stringify(states));

  const other = await sse(`${s.base}/v1/events/stream?deployment=not-this-one`);
  await waitFor('ready', () => other.named('ready').length === 1);
  const logs = await sse(`${s.base}/v1/nodes/e1/logs/stream`);
  await waitFor('ready', () => logs.named('ready').length === 1);
  // the node's PXE ROM gets a lease: dhcp publishes it, the scheduler moves the node to `dhcp`
  await s.bus.publish(Events.leaseGranted, { chaddr: MAC, yiaddr: '10.77.0.11', giaddr: '10.77.0.1', xid: 7, leaseSeconds: 3600 });
  await waitFor('the next state event', () => events.named('state').length > states.length);
  assert.equal(other.named('state').length, 0, "another deployment's filter passes none of these");

  const metrics = await s.registry.metrics();
  assert.match(metrics, /swarmboot_scheduler_sse_connections\{stream="events"\} 2/);
  assert.match(metrics, /swarmboot_scheduler_sse_connections\{stream="logs"\} 1/);
  // a power action on the node's BMC, as the power service reports it: on the stream, and only
  // through the filter of the node's deployment
  const mine = await sse(`${s.base}/v1/events/stream?deployment=${dep.body.id}`);
  await waitFor('ready', () => mine.named('ready').length === 1);
  await s.bus.publish(Events.powerFailed, { requestId: 'r1', nodeId: 'e1', action: 'pxe-boot', attempts: 3, durationMs: 1200, code: 'BMC_TIMEOUT', message: 'no answer' }, 'e1');
  const power = JSON.parse((await waitFor('the power event', () => mine.named('power')[0])).data) as { outcome: string; code: string; deploymentId: string };
  assert.deepEqual([power.outcome, power.code, power.deploymentId], ['failed', 'BMC_TIMEOUT', dep.body.id]);
  await waitFor('the power event, unfiltered', () => events.named('power')[0]);
  assert.equal(other.named('power').length, 0);
  const t0 = Date.now();
  await s.app.close();
  assert.deepEqual(await Promise.all([events.ended, other.ended, logs.ended, mine.ended]), ['ended', 'ended', 'ended', 'ended']);
  assert.ok(Date.now() - t0 < 5000, `close took ${Date.now() - t0} ms`);
});
