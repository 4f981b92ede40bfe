import { normalizeEmail } from "@funnelsync/config";
import { MoosendWebhookError } from "./errors";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What a Moosend automation's "post a webhook" step tells us. */
export interface MoosendWebhook {
  /** The list member's GUID; with a list id, `MoosendClient.findById` resolves the rest. */
  subscriberId: string;
  tags: string[];
  /** Only when the step's body carries them (unconfirmed keys); otherwise the worker looks them up. */
  email?: string;
  listId?: string;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function firstString(...values: unknown[]): string | undefined {
  for (const value of values) if (typeof value === "string" && value.trim() !== "") return value.trim();
  return undefined;
}

/**
 * Reads the JSON body of an automation's "Then post a webhook" step. Only `Event.ContactContext.Id`
 * (the subscriber GUID) and `.Tags` are confirmed; other keys are tolerated, and an e-mail or list id
 * is picked up if the body happens to carry one. The step is unsigned: the caller authenticates the
 * request by its URL, and the worker confirms the member's status through the API before acting.
 * Moosend documents no payload; the confirmed shape comes from integrations that receive it.
 * @see https://wpfusion.com/documentation/webhooks/moosend-webhooks/
 */
export function parseMoosendWebhook(body: unknown): MoosendWebhook {
  let parsed = body;
  if (typeof body === "string" || Buffer.isBuffer(body)) {
    try {
      parsed = JSON.parse(body.toString());
    } catch {
      throw new MoosendWebhookError("moosend webhook: the body is not JSON");
    }
  }
  const event = asRecord(asRecord(parsed)?.Event);
  if (!event) throw new MoosendWebhookError("moosend webhook: the body has no Event object");
  const contact = asRecord(event.ContactContext);
  const id = contact?.Id;
  if (!contact || typeof id !== "string" || !GUID.test(id.trim())) {
    throw new MoosendWebhookError("moosend webhook: Event.ContactContext.Id is not a subscriber GUID");
  }
  const tags = Array.isArray(contact.Tags) ? contact.Tags.filter((tag): tag is string => typeof tag === "string") : [];
  const email = firstString(contact.Email, contact.EmailAddress, event.Email);
  const listId = firstString(contact.ListId, contact.MailingListId, event.ListId, event.MailingListId);
  return {
    subscriberId: id.trim(),
    tags,
    ...(email ? { email: normalizeEmail(email) } : {}),
    ...(listId && GUID.test(listId) ? { listId } : {}),
  };
}
