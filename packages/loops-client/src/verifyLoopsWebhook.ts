import { timingSafeEqual } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { LoopsWebhookPayloadError, LoopsWebhookVerificationError, ValidationError } from "./errors";
import { parseLoopsWebhookEvent, type LoopsWebhookEvent } from "./loopsWebhookEvent";

/** Standard Webhooks' tolerance, both ways: older is a replay, newer a skewed or forged clock. */
export const LOOPS_WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

type Headers = Record<string, string | string[] | undefined>;

function header(headers: Headers, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    // Several signature headers are several candidates; a repeated id or timestamp is ambiguous.
    if (Array.isArray(value)) return name === "webhook-signature" ? value.join(" ") : value.length === 1 ? value[0] : undefined;
    return value;
  }
  return undefined;
}

/**
 * Checks a Loops webhook (Standard Webhooks) over the RAW body and returns the event it carries.
 * The signature is HMAC-SHA256 over `${webhook-id}.${webhook-timestamp}.${body}`, computed with the
 * `standardwebhooks` package's `Webhook.sign`; any `v1,` entry may match (key rotation), compared in
 * constant time. We check the timestamp ourselves rather than call `Webhook.verify`, because that
 * reads `Date.now()` and cannot take an injected clock (`now`).
 *
 * Throws `LoopsWebhookVerificationError` (unauthenticated: missing headers, no matching signature,
 * timestamp more than 5 min off) or `LoopsWebhookPayloadError` (signed, but not JSON or not a Loops event).
 * @see https://loops.so/docs/webhooks
 */
export function verifyLoopsWebhook(secret: string, rawBody: string | Buffer, headers: Headers, now: Date = new Date()): LoopsWebhookEvent {
  let webhook: Webhook;
  try {
    webhook = new Webhook(secret);
  } catch {
    throw new ValidationError("loops", "the webhook secret must be a whsec_… base64 secret");
  }
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) {
    throw new LoopsWebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header");
  }
  if (!/^\d{1,12}$/.test(timestamp)) throw new LoopsWebhookVerificationError("invalid webhook-timestamp header");
  const sentAt = Number(timestamp);
  const nowSeconds = Math.floor(now.getTime() / 1000);
  if (nowSeconds - sentAt > LOOPS_WEBHOOK_TOLERANCE_SECONDS) throw new LoopsWebhookVerificationError("message timestamp too old");
  if (sentAt - nowSeconds > LOOPS_WEBHOOK_TOLERANCE_SECONDS) throw new LoopsWebhookVerificationError("message timestamp too new");

  const body = typeof rawBody === "string" ? rawBody : rawBody.toString("utf8");
  const expected = Buffer.from(webhook.sign(id, new Date(sentAt * 1000), body).slice("v1,".length));
  const matches = signatures.split(" ").some((entry) => {
    const [version, signature] = entry.split(",");
    if (version !== "v1" || !signature) return false;
    const candidate = Buffer.from(signature);
    return candidate.length === expected.length && timingSafeEqual(candidate, expected);
  });
  if (!matches) throw new LoopsWebhookVerificationError("no matching signature");

  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new LoopsWebhookPayloadError("the signed body is not JSON");
  }
  const event = parseLoopsWebhookEvent(parsed, id);
  if (typeof event === "string") throw new LoopsWebhookPayloadError(event);
  return event;
}
