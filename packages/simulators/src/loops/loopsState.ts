import { randomBytes } from "node:crypto";
import { SEED } from "../seed";

export type LoopsPropertyValue = string | number | boolean | null;
export type LoopsPropertyType = "string" | "number" | "boolean" | "date";

export interface LoopsSimContact {
  id: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
  source: string;
  subscribed: boolean;
  userGroup: string;
  userId: string | null;
  /** List id → subscribed to that list. */
  mailingLists: Record<string, boolean>;
  optInStatus: "pending" | "accepted" | "rejected" | null;
  /** Custom properties; on the wire they sit top-level next to the standard fields. */
  properties: Record<string, LoopsPropertyValue>;
  createdAt: number;
}

export interface LoopsSimProperty {
  key: string;
  label: string;
  type: LoopsPropertyType;
  custom: boolean;
}

export interface LoopsSimList {
  id: string;
  name: string;
  description: string | null;
  isPublic: boolean;
}

/** A published transactional e-mail and the data variables its template uses (all required). */
export interface LoopsSimTemplate {
  id: string;
  name: string;
  subject: string;
  lastUpdated: string;
  dataVariables: string[];
  /** false: a draft, which Loops neither lists on the old route nor sends (default published). */
  published?: boolean;
}

export interface LoopsSimEvent {
  eventName: string;
  contactId: string;
  email: string;
  userId: string | null;
  eventProperties: Record<string, unknown>;
  /** Top-level keys of the request that updated the contact. */
  contactProperties: Record<string, unknown>;
  mailingLists: Record<string, boolean>;
  idempotencyKey: string | null;
  at: number;
}

export interface LoopsSimTransactional {
  transactionalId: string;
  email: string;
  dataVariables: Record<string, unknown>;
  addToAudience: boolean;
  idempotencyKey: string | null;
  at: number;
}

export interface LoopsSimDelivery {
  webhookId: string;
  eventName: string;
  payload: unknown;
  /** Exactly the bytes that were signed and sent. */
  body: string;
  headers: LoopsWebhookHeaders;
  url: string | undefined;
  /** The receiver's status; "failed" when it did not answer; "no-endpoint" when no webhook URL is set. */
  status: number | "pending" | "failed" | "no-endpoint";
  error?: string;
  /** 1 for the first send; redeliveries of the same webhook id count up. */
  attempt: number;
  at: number;
}

/** A type literal (not an interface), so it can be passed where `Record<string, string>` is expected. */
export type LoopsWebhookHeaders = {
  "content-type": "application/json";
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
};

export interface LoopsIdempotencyRecord {
  fingerprint: string;
  at: number;
  status: number;
  body: unknown;
}

export interface LoopsState {
  teamName: string;
  /** By contact id. */
  contacts: Map<string, LoopsSimContact>;
  properties: LoopsSimProperty[];
  lists: LoopsSimList[];
  /** By transactional id. */
  templates: Map<string, LoopsSimTemplate>;
  events: LoopsSimEvent[];
  transactionals: LoopsSimTransactional[];
  /** By key; shared by events/send and transactional, kept 24 h. */
  idempotencyKeys: Map<string, LoopsIdempotencyRecord>;
  deliveries: LoopsSimDelivery[];
}

/** The seeded mailing lists (the account has two; ids are cuid-like, as Loops' are). */
export const LOOPS_SIM_LISTS: readonly LoopsSimList[] = [
  { id: "cm5nwsl0000a1b2c3d4e5f6g7h", name: "Newsletter", description: "Product news, monthly", isPublic: true },
  { id: "cm5cust0000a1b2c3d4e5f6g7h", name: "Customers", description: null, isPublic: false },
];

const STANDARD_PROPERTIES: readonly LoopsSimProperty[] = [
  { key: "email", label: "Email", type: "string", custom: false },
  { key: "firstName", label: "First Name", type: "string", custom: false },
  { key: "lastName", label: "Last Name", type: "string", custom: false },
  { key: "notes", label: "Notes", type: "string", custom: false },
  { key: "source", label: "Source", type: "string", custom: false },
  { key: "subscribed", label: "Subscribed", type: "boolean", custom: false },
  { key: "userGroup", label: "User Group", type: "string", custom: false },
  { key: "userId", label: "User Id", type: "string", custom: false },
  { key: "createdAt", label: "Created At", type: "date", custom: false },
];

const SEEDED_CUSTOM_TYPES: Record<(typeof SEED.loops.properties)[number], LoopsPropertyType> = {
  company: "string",
  budget: "number",
};

export function createLoopsState(seed: boolean, teamName: string): LoopsState {
  const custom: LoopsSimProperty[] = seed
    ? SEED.loops.properties.map((key) => ({
        key,
        label: key[0]!.toUpperCase() + key.slice(1),
        type: SEEDED_CUSTOM_TYPES[key],
        custom: true,
      }))
    : [];
  const templates = new Map<string, LoopsSimTemplate>();
  if (seed) {
    templates.set("cm_welcome_01", {
      id: "cm_welcome_01",
      name: "Welcome",
      subject: "Welcome aboard",
      lastUpdated: "2026-01-05T09:00:00.000Z",
      dataVariables: ["firstName", "company"],
    });
  }
  return {
    teamName,
    contacts: new Map(),
    properties: [...STANDARD_PROPERTIES.map((p) => ({ ...p })), ...custom],
    lists: seed ? LOOPS_SIM_LISTS.map((l) => ({ ...l })) : [],
    templates,
    events: [],
    transactionals: [],
    idempotencyKeys: new Map(),
    deliveries: [],
  };
}

/** A cuid-like id: "c" + 24 lower-case alphanumerics, like Loops' contact and message ids. */
export function cuidLike(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = randomBytes(24);
  let id = "c";
  for (const byte of bytes) id += alphabet[byte % alphabet.length];
  return id;
}

export function findContactByEmail(state: LoopsState, email: string): LoopsSimContact | undefined {
  const wanted = email.toLowerCase();
  for (const contact of state.contacts.values()) if (contact.email.toLowerCase() === wanted) return contact;
  return undefined;
}

export function findContactByUserId(state: LoopsState, userId: string): LoopsSimContact | undefined {
  for (const contact of state.contacts.values()) if (contact.userId === userId) return contact;
  return undefined;
}

/** A contact as `GET /contacts/find` returns it: custom properties flattened next to the standard fields. */
export function contactToWire(contact: LoopsSimContact): Record<string, unknown> {
  return {
    ...contact.properties,
    id: contact.id,
    email: contact.email,
    firstName: contact.firstName,
    lastName: contact.lastName,
    source: contact.source,
    subscribed: contact.subscribed,
    userGroup: contact.userGroup,
    userId: contact.userId,
    mailingLists: { ...contact.mailingLists },
    optInStatus: contact.optInStatus,
  };
}

export function newContact(fields: Partial<LoopsSimContact> & { email: string }, now: number): LoopsSimContact {
  return {
    id: cuidLike(),
    firstName: null,
    lastName: null,
    source: "API",
    subscribed: true,
    userGroup: "",
    userId: null,
    mailingLists: {},
    optInStatus: null,
    properties: {},
    createdAt: now,
    ...fields,
  };
}
