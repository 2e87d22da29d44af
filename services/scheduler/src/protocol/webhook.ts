import type { Webhook } from 'standardwebhooks';
import type { CloudEvent } from '@swarmboot/contracts';

/**
 * Media type of a CloudEvent in structured mode (CloudEvents HTTP protocol binding 1.0.2 §3.2,
 * JSON event format §2): the whole event, attributes and data, is the body.
 */
export const CLOUDEVENTS_JSON = 'application/cloudevents+json; charset=utf-8';

/** One HTTP POST of a webhook delivery: the body and the headers to send with it. */
export interface WebhookRequest {
  body: string;
  headers: Record<string, string>;
}

/**
 * The request delivering `event` (already a CloudEvents 1.0 envelope, as on NATS) at `now`:
 * the event as JSON in structured mode, signed as Standard Webhooks 1.0 specifies
 * (standardwebhooks.com, "Signature scheme"):
 * - `webhook-id`: the event's id — the same on every retry, so a receiver can drop duplicates;
 * - `webhook-timestamp`: `now` in whole seconds since the epoch; a receiver refuses a message
 *   whose timestamp is far from its clock (the library's tolerance: 5 min), which is why each
 *   attempt is signed anew;
 * - `webhook-signature`: `v1,` + base64 of HMAC-SHA256(key, `${id}.${timestamp}.${body}`), the
 *   key being the base64 part of the secret `whsec_…`.
 * Pure: `signer` (`new Webhook(secret)`) only computes.
 */
export function webhookRequest(event: CloudEvent<unknown>, signer: Webhook, now: Date): WebhookRequest {
  const body = JSON.stringify(event);
  return {
    body,
    headers: {
      'content-type': CLOUDEVENTS_JSON,
      'webhook-id': event.id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signer.sign(event.id, now, body),
    },
  };
}
