import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { cuidLike, type LoopsSimContact, type LoopsSimList, type LoopsWebhookHeaders } from "./loopsState";

/** Where an e-mail event's message came from, as `email.*` payloads say it. */
export interface LoopsEmailSource {
  sourceType?: "campaign" | "loop" | "transactional";
  /** The campaign, loop or transactional id; a fresh cuid-like id (or `cm_welcome_01`) when omitted. */
  sourceId?: string;
  subject?: string;
  /** The message's `email.id`: the same for every open or click of one e-mail; fresh when omitted. */
  emailId?: string;
}

export function contactIdentity(contact: LoopsSimContact) {
  return { id: contact.id, email: contact.email, userId: contact.userId };
}

function envelope(eventName: string, eventTime: number) {
  return { eventName, eventTime, webhookSchemaVersion: "1.0.0" };
}

/** `email.softBounced`, `email.hardBounced`, `email.spamReported`…, in the key order Loops sends. */
export function emailEventPayload(eventName: string, contact: LoopsSimContact, eventTime: number, source: LoopsEmailSource = {}) {
  const sourceType = source.sourceType ?? "campaign";
  const sourceKey = `${sourceType}Id`;
  const sourceId = source.sourceId ?? (sourceType === "transactional" ? "cm_welcome_01" : cuidLike());
  return {
    ...envelope(eventName, eventTime),
    sourceType,
    [sourceKey]: sourceId,
    email: { id: source.emailId ?? cuidLike(), emailMessageId: cuidLike(), subject: source.subject ?? "Subject of the email" },
    contactIdentity: contactIdentity(contact),
  };
}

export function contactEventPayload(eventName: string, contact: LoopsSimContact, eventTime: number) {
  return { ...envelope(eventName, eventTime), contactIdentity: contactIdentity(contact) };
}

export function mailingListEventPayload(eventName: string, contact: LoopsSimContact, list: LoopsSimList, eventTime: number) {
  return {
    ...envelope(eventName, eventTime),
    contactIdentity: contactIdentity(contact),
    mailingList: { id: list.id, name: list.name, description: list.description, isPublic: list.isPublic },
  };
}

export function testEventPayload(eventTime: number) {
  return envelope("testing.testEvent", eventTime);
}

/** Svix-style message ids, as Loops' deliveries carry. */
export function newWebhookId(): string {
  return `msg_${randomBytes(18).toString("base64url")}`;
}

/** Signs a body the way Loops does (Standard Webhooks), with the very class ingest verifies with. */
export function signDelivery(
  secret: string,
  body: string,
  id: string,
  timestampSeconds: number,
): { headers: LoopsWebhookHeaders; body: string } {
  const signature = new Webhook(secret).sign(id, new Date(timestampSeconds * 1000), body);
  return {
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(timestampSeconds),
      "webhook-signature": signature,
    },
    body,
  };
}
