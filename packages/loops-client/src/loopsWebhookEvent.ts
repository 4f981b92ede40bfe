import { z } from "zod";

/** Who an event is about. `userId` is null unless the contact has one. */
const contactIdentity = z.object({
  id: z.string(),
  email: z.string(),
  userId: z.string().nullish().transform((v) => v ?? null),
});

const envelope = {
  /** Unix seconds. */
  eventTime: z.number(),
  webhookSchemaVersion: z.string(),
};

const contactEvent = z.object({
  eventName: z.enum(["contact.created", "contact.unsubscribed", "contact.deleted"]),
  ...envelope,
  contactIdentity,
});

const mailingListEvent = z.object({
  eventName: z.enum(["contact.mailingList.subscribed", "contact.mailingList.unsubscribed"]),
  ...envelope,
  contactIdentity,
  mailingList: z.object({
    id: z.string(),
    name: z.string(),
    description: z.string().nullish().transform((v) => v ?? null),
    isPublic: z.boolean().optional(),
  }),
});

/** "campaign" | "loop" | "transactional" as documented; kept open so a new source is not "malformed". */
export type LoopsEmailSourceType = "campaign" | "loop" | "transactional" | (string & {});

const emailFields = {
  ...envelope,
  contactIdentity,
  sourceType: z.string().transform((v) => v as LoopsEmailSourceType),
  campaignId: z.string().optional(),
  campaignName: z.string().optional(),
  loopId: z.string().optional(),
  loopName: z.string().optional(),
  transactionalId: z.string().optional(),
  transactionalName: z.string().optional(),
  email: z.object({
    id: z.string(),
    emailMessageId: z.string(),
    subject: z.string().nullish().transform((v) => v ?? null),
  }),
};

const emailEvent = z.object({ eventName: z.enum(["email.softBounced", "email.hardBounced", "email.spamReported", "email.resubscribed"]), ...emailFields });

/** Engagement with a sent message: no opens or clicks for transactional mail. */
const emailMetricEvent = z.object({ eventName: z.enum(["email.delivered", "email.opened", "email.clicked"]), ...emailFields });

const testEvent = z.object({
  eventName: z.literal("testing.testEvent"),
  ...envelope,
});

const otherEvent = z.looseObject({
  eventName: z.string().min(1),
  ...envelope,
  contactIdentity: contactIdentity.nullish().transform((v) => v ?? null),
});

export type LoopsContactIdentity = z.infer<typeof contactIdentity>;

interface Delivered {
  /** The `webhook-id` header: the event's identity, repeated by redeliveries (the dedupe key). */
  webhookId: string;
  /** Narrow with `known` first: `eventName` of the generic variant is any string. */
  known: true;
}

/** Audience-level changes: `contact.unsubscribed` also follows a hard bounce and a deletion. */
export type LoopsContactEvent = z.infer<typeof contactEvent> & Delivered;
/** One list changed; the contact's other lists and audience subscription are untouched. */
export type LoopsMailingListEvent = z.infer<typeof mailingListEvent> & Delivered;
/** Bounces, spam reports and re-subscribes from a preference centre, with where the message came from. */
export type LoopsEmailEvent = z.infer<typeof emailEvent> & Delivered;
/** A message delivered, opened or clicked, with where it came from. */
export type LoopsEmailMetricEvent = z.infer<typeof emailMetricEvent> & Delivered;
/** The dashboard's test send: no contact. */
export type LoopsTestEvent = z.infer<typeof testEvent> & Delivered & { contactIdentity: null };
/** Any other event Loops may send (`email.opened`, `contact.mailingList.subscribed`…): kept, not an error. */
export interface LoopsOtherEvent {
  known: false;
  webhookId: string;
  eventName: string;
  eventTime: number;
  webhookSchemaVersion: string;
  contactIdentity: LoopsContactIdentity | null;
  /** The whole parsed body. */
  payload: Record<string, unknown>;
}

export type LoopsWebhookEvent = LoopsContactEvent | LoopsMailingListEvent | LoopsEmailEvent | LoopsEmailMetricEvent | LoopsTestEvent | LoopsOtherEvent;
export type LoopsWebhookEventName = Exclude<LoopsWebhookEvent, LoopsOtherEvent>["eventName"];

const KNOWN: Record<LoopsWebhookEventName, z.ZodType<object>> = {
  "contact.created": contactEvent,
  "contact.unsubscribed": contactEvent,
  "contact.deleted": contactEvent,
  "contact.mailingList.subscribed": mailingListEvent,
  "contact.mailingList.unsubscribed": mailingListEvent,
  "email.softBounced": emailEvent,
  "email.hardBounced": emailEvent,
  "email.spamReported": emailEvent,
  "email.resubscribed": emailEvent,
  "email.delivered": emailMetricEvent,
  "email.opened": emailMetricEvent,
  "email.clicked": emailMetricEvent,
  "testing.testEvent": testEvent,
};

/**
 * Reads a verified body as a Loops event. Known event names must have their documented shape;
 * others become the generic variant. Returns the problem as a string when it is not a Loops event.
 */
export function parseLoopsWebhookEvent(body: unknown, webhookId: string): LoopsWebhookEvent | string {
  const other = otherEvent.safeParse(body);
  if (!other.success) return `not a Loops event: ${z.prettifyError(other.error)}`;
  const schema = Object.hasOwn(KNOWN, other.data.eventName) ? KNOWN[other.data.eventName as LoopsWebhookEventName] : undefined;
  if (!schema) {
    const { eventName, eventTime, webhookSchemaVersion, contactIdentity } = other.data;
    return { known: false, webhookId, eventName, eventTime, webhookSchemaVersion, contactIdentity, payload: other.data };
  }
  const known = schema.safeParse(body);
  if (!known.success) return `not a valid ${other.data.eventName} event: ${z.prettifyError(known.error)}`;
  return { contactIdentity: null, ...known.data, webhookId, known: true } as LoopsWebhookEvent;
}
