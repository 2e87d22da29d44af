import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { isSwarmbootError, type CloudEvent } from '@swarmboot/contracts';
import { CLOUDEVENTS_JSON, attemptVerdict, backoffDelay, loadWebhooks, parseRetryAfter, wantsEvent, webhookRequest } from '../src/index.js';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const event: CloudEvent<unknown> = {
  specversion: '1.0',
  id: '7d6c1f0e-52a4-4f43-9d6e-3f1b8c0a2e11',
  source: 'swarmboot/scheduler',
  type: 'swarmboot.job.completed',
  time: '2026-12-01T10:00:00.000Z',
  datacontenttype: 'application/json',
  data: { deploymentId: 'dep-1', image: 'debian-12', installed: 3, failed: 1, durationMs: 1234 },
};

test('a webhook request is the CloudEvent in structured mode, signed as Standard Webhooks specify', () => {
  const now = new Date('2026-12-01T10:00:05.750Z');
  const req = webhookRequest(event, new Webhook(secret), now);
  assert.equal(req.headers['content-type'], CLOUDEVENTS_JSON);
  assert.deepEqual(JSON.parse(req.body), event, 'the body is the whole event, attributes and data');
  assert.equal(req.headers['webhook-id'], event.id);
  assert.equal(req.headers['webhook-timestamp'], '1796119205');
  // the receiver's check, by hand: HMAC-SHA256 over id.timestamp.body, keyed by the secret's base64 part
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const mac = createHmac('sha256', key).update(`${event.id}.1796119205.${req.body}`).digest('base64');
  assert.equal(req.headers['webhook-signature'], `v1,${mac}`);
});

test('a receiver verifies a fresh request with the reference library, and refuses a tampered body, another secret or an old timestamp', () => {
  const req = webhookRequest(event, new Webhook(secret), new Date());
  assert.deepEqual(new Webhook(secret).verify(req.body, req.headers), event);
  assert.throws(() => new Webhook(secret).verify(req.body.replace('"installed":3', '"installed":4'), req.headers), /signature/i);
  assert.throws(() => new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(req.body, req.headers), /signature/i);
  const old = webhookRequest(event, new Webhook(secret), new Date(Date.now() - 10 * 60_000));
  assert.throws(() => new Webhook(secret).verify(old.body, old.headers), /too old/);
});

test('2xx is delivered; network errors, timeouts, 408, 429 and 5xx are retried; other answers are final', () => {
  assert.deepEqual([200, 202, 204].map(attemptVerdict), ['delivered', 'delivered', 'delivered']);
  assert.deepEqual([undefined, 408, 429, 500, 502, 503].map(attemptVerdict), ['retry', 'retry', 'retry', 'retry', 'retry', 'retry']);
  assert.deepEqual([301, 307, 400, 401, 403, 404, 410, 413, 422].map(attemptVerdict), Array(9).fill('reject'));
});

test('backoff: full jitter under a ceiling that doubles per retry up to the cap; Retry-After honoured up to the cap', () => {
  const policy = { baseMs: 1000, capMs: 30_000 };
  const top = () => 0.999999;
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((r) => backoffDelay(r, policy, top)), [999, 1999, 3999, 7999, 15_999, 29_999, 29_999]);
  assert.deepEqual([1, 4, 9].map((r) => backoffDelay(r, policy, () => 0)), [0, 0, 0], 'jitter reaches down to no wait');
  assert.equal(backoffDelay(3, policy, () => 0.5), 2000);
  assert.equal(backoffDelay(1, policy, () => 0, 12_000), 12_000, 'Retry-After beats a shorter backoff');
  assert.equal(backoffDelay(1, policy, () => 0, 3_600_000), 30_000, 'but not the cap');
  assert.equal(parseRetryAfter('120', 0), 120_000);
  const now = Date.parse('2026-12-01T10:00:00Z');
  assert.equal(parseRetryAfter('Tue, 01 Dec 2026 10:00:30 GMT', now), 30_000);
  assert.equal(parseRetryAfter('Tue, 01 Dec 2026 09:00:00 GMT', now), 0, 'a date in the past: at once');
  assert.deepEqual([null, undefined, '', 'soon'].map((v) => parseRetryAfter(v, now)), [undefined, undefined, undefined, undefined]);
});

test('the type filter: none takes every webhook event, a list only its types', () => {
  assert.ok(wantsEvent(undefined, 'swarmboot.node.state'));
  assert.ok(wantsEvent(['swarmboot.job.completed'], 'swarmboot.job.completed'));
  assert.ok(!wantsEvent(['swarmboot.job.completed'], 'swarmboot.node.state'));
});

test('SWARMBOOT_SCHEDULER_WEBHOOKS: inline JSON or a file; names default to the place in the list', async () => {
  assert.deepEqual(await loadWebhooks(''), []);
  const list = [
    { url: 'https://tickets.example/hooks/swarmboot?token=t0k3n', secret },
    { url: 'http://10.0.0.5:8080/in', secret, types: ['swarmboot.job.completed'], name: 'ops-bot' },
  ];
  const inline = await loadWebhooks(JSON.stringify(list));
  assert.deepEqual(
    inline.map((w) => [w.name, w.url, w.types]),
    [
      ['webhook-1', list[0]?.url, undefined],
      ['ops-bot', list[1]?.url, ['swarmboot.job.completed']],
    ],
  );
  const read: string[] = [];
  const fromFile = await loadWebhooks('/etc/swarmboot/webhooks.json', async (p) => (read.push(p), JSON.stringify(list)));
  assert.deepEqual(read, ['/etc/swarmboot/webhooks.json']);
  assert.deepEqual(fromFile, inline);
});

test('a bad webhook list stops start-up naming the variable and the field, never the secret', async () => {
  const bad: [string, RegExp][] = [
    ['[{"url":"ftp://x/","secret":"S"}]', /entry 0: \/url/],
    [JSON.stringify([{ url: 'http://a/', secret: 'not-a-secret' }]), /entry 0: \/secret/],
    [JSON.stringify([{ url: 'http://a/', secret: `whsec_${randomBytes(8).toString('base64')}` }]), /24 to 64 bytes \(has 8\)/],
    [JSON.stringify([{ url: 'http://a/', secret, types: ['swarmboot.node.progress'] }]), /entry 0: \/types\/0/],
    [JSON.stringify([{ url: 'http://a/', secret, extra: 1 }]), /entry 0/],
    [JSON.stringify([{ url: 'http://a/', secret, name: 'x' }, { url: 'http://b/', secret, name: 'x' }]), /entry 1: the name x is taken/],
    ['[{"url":', /not JSON/],
    ['{}', /cannot read the file/],
  ];
  for (const [value, why] of bad) {
    await assert.rejects(loadWebhooks(value, async () => Promise.reject(Object.assign(new Error('no'), { code: 'ENOENT' }))), (err: unknown) => {
      assert.ok(isSwarmbootError(err) && err.code === 'CONFIG_INVALID', String(err));
      assert.match(err.message, /^SWARMBOOT_SCHEDULER_WEBHOOKS: /);
      assert.match(err.message, why);
      assert.ok(!err.message.includes(secret.slice(6)), 'the secret is not in the message');
      return true;
    });
  }
  await assert.rejects(loadWebhooks('/nope.json', async () => '{"url":"http://a/"}'), /expected a JSON list/);
});
