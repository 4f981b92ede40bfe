import { randomUUID } from "node:crypto";
import { SEED } from "../seed";

/** Moosend's `SubscribeType`: 1 Subscribed, 2 Unsubscribed, 3 Bounced, 4 Removed. */
export type SubscribeType = 1 | 2 | 3 | 4;
export type MemberStatus = "Subscribed" | "Unsubscribed" | "Bounced" | "Removed";

export const STATUS_BY_TYPE: Record<SubscribeType, MemberStatus> = {
  1: "Subscribed",
  2: "Unsubscribed",
  3: "Bounced",
  4: "Removed",
};

export const TYPE_BY_STATUS: Record<MemberStatus, SubscribeType> = { Subscribed: 1, Unsubscribed: 2, Bounced: 3, Removed: 4 };

export interface MoosendSimCustomField {
  ID: string;
  Name: string;
  /** 0 text, 1 number (as in `CustomFieldsDefinition`). Values are stored and returned as strings. */
  Type: number;
}

/** One list membership. Moosend gives each membership its own GUID, so one address has one id per list. */
export interface MoosendSimSubscriber {
  ID: string;
  /** Lower-cased, as Moosend stores it. */
  Email: string;
  Name: string;
  SubscribeType: SubscribeType;
  /** 0 form, 1 import, 2 manual (API calls count as manual here). */
  SubscribeMethod: number;
  CreatedOn: Date;
  UpdatedOn: Date;
  UnsubscribedOn: Date | null;
  UnsubscribedFromID: string | null;
  RemovedOn: Date | null;
  /** Field name → value; a field without a value is absent. */
  CustomFields: Record<string, string>;
  Tags: string[];
  Preferences: string[];
}

export interface MoosendSimList {
  ID: string;
  Name: string;
  CreatedOn: Date;
  UpdatedOn: Date;
  CustomFields: MoosendSimCustomField[];
  /** Keyed by lower-cased e-mail, in the order members joined. */
  members: Map<string, MoosendSimSubscriber>;
}

/** One POST of an automation's "post a webhook" step, as the simulator sent it. */
export interface MoosendWebhookDelivery {
  url: string;
  trigger: "unsubscribed" | "bounced";
  listId: string;
  subscriberId: string;
  body: unknown;
  /** The receiver's HTTP status, or "error" when it did not answer (refused, reset, timeout). */
  status: number | "error";
  error?: string;
  at: number;
}

export interface MoosendSimState {
  apiKey: string;
  /** Keyed by lower-cased list id. */
  lists: Map<string, MoosendSimList>;
  deliveries: MoosendWebhookDelivery[];
  /** Where automation "post a webhook" steps send; null sends nothing. */
  webhookUrl: string | null;
}

/** A strictly increasing clock, so members that change status in the same millisecond still sort in order. */
export function monotonicClock(clock: () => number = Date.now): () => Date {
  let last = 0;
  return () => {
    last = Math.max(clock(), last + 1);
    return new Date(last);
  };
}

export function newList(id: string, name: string, fieldNames: readonly string[], at: Date, fieldIds?: string[]): MoosendSimList {
  return {
    ID: id,
    Name: name,
    CreatedOn: at,
    UpdatedOn: at,
    CustomFields: fieldNames.map((fieldName, i) => ({
      ID: fieldIds?.[i] ?? randomUUID(),
      Name: fieldName,
      Type: fieldName === "Budget" ? 1 : 0,
    })),
    members: new Map(),
  };
}

export function newSubscriber(
  fields: Partial<MoosendSimSubscriber> & { Email: string },
  at: Date,
): MoosendSimSubscriber {
  const type = fields.SubscribeType ?? 1;
  return {
    ID: randomUUID(),
    Name: "",
    SubscribeType: type,
    SubscribeMethod: 2,
    CreatedOn: at,
    UpdatedOn: at,
    UnsubscribedOn: type === 2 ? at : null,
    UnsubscribedFromID: null,
    RemovedOn: type === 4 ? at : null,
    CustomFields: {},
    Tags: [],
    Preferences: [],
    ...fields,
    Email: fields.Email.toLowerCase(),
  };
}

const DAY_MS = 86_400_000;

/** The seeded account: SEED.moosend's lists with Company and Budget, and a few members in each state. */
export function createMoosendState(apiKey: string, seed: boolean, webhookUrl: string | null): MoosendSimState {
  const state: MoosendSimState = { apiKey, lists: new Map(), deliveries: [], webhookUrl };
  if (!seed) return state;

  const base = Date.UTC(2025, 0, 6, 9, 0, 0);
  SEED.moosend.lists.forEach((list, i) => {
    const fieldIds = SEED.moosend.customFields.map((_, f) => `5eed0000-0000-4000-9000-00000000${i + 1}${f + 1}00`);
    state.lists.set(list.id.toLowerCase(), newList(list.id, list.name, SEED.moosend.customFields, new Date(base), fieldIds));
  });

  const add = (listIndex: number, id: string, fields: Partial<MoosendSimSubscriber> & { Email: string }, dayOffset: number) => {
    const list = [...state.lists.values()][listIndex]!;
    const at = new Date(base + dayOffset * DAY_MS);
    list.members.set(fields.Email, newSubscriber({ ID: id, ...fields }, at));
  };
  // "New leads" starts empty, so a test of the first subscribe sees exactly what it sent.
  add(1, "5eed5b00-0000-4000-a000-000000000001", {
    Email: "maria@example.test",
    Name: "Maria Lopez",
    CustomFields: { Company: "Lopez Bakery", Budget: "1200" },
  }, 3);
  add(1, "5eed5b00-0000-4000-a000-000000000002", {
    Email: "oliver@example.test",
    Name: "Oliver Brown",
    SubscribeType: 2,
    CustomFields: { Company: "Brown & Sons" },
  }, 5);
  add(2, "5eed5b00-0000-4000-a000-000000000003", {
    Email: "sofia@example.test",
    Name: "Sofia Rossi",
    CustomFields: { Company: "Rossi Design", Budget: "8000" },
    Tags: ["customer"],
  }, 8);
  add(2, "5eed5b00-0000-4000-a000-000000000004", {
    Email: "liam@example.test",
    Name: "Liam Murphy",
    SubscribeType: 3,
    CustomFields: { Company: "Murphy Plumbing", Budget: "300" },
  }, 9);
  return state;
}

/** Moves a member to a new status, stamping the dates Moosend keeps for it. */
export function changeStatus(member: MoosendSimSubscriber, type: SubscribeType, at: Date, unsubscribedFromId: string | null = null): void {
  member.UpdatedOn = at;
  if (member.SubscribeType === type) return;
  member.SubscribeType = type;
  if (type === 1) {
    member.UnsubscribedOn = null;
    member.UnsubscribedFromID = null;
    member.RemovedOn = null;
  } else if (type === 2) {
    member.UnsubscribedOn = at;
    member.UnsubscribedFromID = unsubscribedFromId;
  } else if (type === 4) {
    member.RemovedOn = at;
  }
}
