import type { LoopsPropertyValue, LoopsSimContact, LoopsState } from "./loopsState";

/** Loops limits most strings to 500 characters. */
export const LOOPS_MAX_STRING = 500;

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function isValidEmail(value: unknown): value is string {
  return typeof value === "string" && value.length <= LOOPS_MAX_STRING && EMAIL_PATTERN.test(value);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export interface ContactPatch {
  firstName?: string | null;
  lastName?: string | null;
  source?: string;
  userGroup?: string;
  subscribed?: boolean;
  mailingLists: Record<string, boolean>;
  properties: Record<string, LoopsPropertyValue>;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

const STANDARD_STRINGS = new Set(["firstName", "lastName", "source", "userGroup"]);

function tooLong(key: string): string {
  return `The value of "${key}" must be ${LOOPS_MAX_STRING} characters or fewer.`;
}

/**
 * Reads the contact fields of a contact write or an event: the standard ones, `mailingLists`, and
 * custom properties at the top level, which must already exist in the account. Keys in `skip` belong
 * to the endpoint (identity, event name…). Nothing is applied here, so a bad field changes nothing.
 */
export function parseContactFields(
  body: Record<string, unknown>,
  skip: ReadonlySet<string>,
  state: LoopsState,
): Checked<ContactPatch> {
  const patch: ContactPatch = { mailingLists: {}, properties: {} };
  for (const [key, value] of Object.entries(body)) {
    if (skip.has(key) || value === undefined) continue;
    if (STANDARD_STRINGS.has(key)) {
      const nullable = key === "firstName" || key === "lastName";
      if (value === null && nullable) {
        patch[key as "firstName" | "lastName"] = null;
        continue;
      }
      if (typeof value !== "string") return { ok: false, message: `"${key}" must be a string.` };
      if (value.length > LOOPS_MAX_STRING) return { ok: false, message: tooLong(key) };
      patch[key as "firstName" | "lastName" | "source" | "userGroup"] = value;
      continue;
    }
    if (key === "subscribed") {
      if (typeof value !== "boolean") return { ok: false, message: `"subscribed" must be a boolean.` };
      patch.subscribed = value;
      continue;
    }
    if (key === "mailingLists") {
      const lists = parseMailingLists(value, state);
      if (!lists.ok) return lists;
      patch.mailingLists = lists.value;
      continue;
    }
    const property = state.properties.find((p) => p.key === key && (p.custom || p.key === "notes"));
    if (!property) {
      return { ok: false, message: `Contact property "${key}" does not exist. Create it in Loops before writing it.` };
    }
    if (value === null) {
      patch.properties[key] = null;
      continue;
    }
    const expected = property.type === "date" ? ["string", "number"] : [property.type];
    if (!expected.includes(typeof value) || (typeof value === "number" && !Number.isFinite(value))) {
      return { ok: false, message: `Invalid value for contact property "${key}": expected a ${property.type}.` };
    }
    if (typeof value === "string" && value.length > LOOPS_MAX_STRING) return { ok: false, message: tooLong(key) };
    patch.properties[key] = value as LoopsPropertyValue;
  }
  return { ok: true, value: patch };
}

export function parseMailingLists(value: unknown, state: LoopsState): Checked<Record<string, boolean>> {
  if (!isRecord(value)) return { ok: false, message: `"mailingLists" must be an object of list ids to booleans.` };
  const lists: Record<string, boolean> = {};
  for (const [id, subscribed] of Object.entries(value)) {
    if (!state.lists.some((l) => l.id === id)) return { ok: false, message: `Mailing list "${id}" does not exist.` };
    if (typeof subscribed !== "boolean") return { ok: false, message: `Mailing list "${id}" must be true or false.` };
    lists[id] = subscribed;
  }
  return { ok: true, value: lists };
}

/** Event properties: strings (≤ 500), numbers, booleans or dates; nothing nested. */
export function parseEventProperties(value: unknown): Checked<Record<string, unknown>> {
  if (value === undefined) return { ok: true, value: {} };
  if (!isRecord(value)) return { ok: false, message: `"eventProperties" must be an object.` };
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === "string" && v.length > LOOPS_MAX_STRING) return { ok: false, message: tooLong(key) };
    if (!["string", "number", "boolean"].includes(typeof v)) {
      return { ok: false, message: `Event property "${key}" must be a string, number, boolean or date.` };
    }
  }
  return { ok: true, value: { ...value } };
}

export function applyContactPatch(contact: LoopsSimContact, patch: ContactPatch): void {
  if (patch.firstName !== undefined) contact.firstName = patch.firstName;
  if (patch.lastName !== undefined) contact.lastName = patch.lastName;
  if (patch.source !== undefined) contact.source = patch.source;
  if (patch.userGroup !== undefined) contact.userGroup = patch.userGroup;
  if (patch.subscribed !== undefined) contact.subscribed = patch.subscribed;
  Object.assign(contact.mailingLists, patch.mailingLists);
  for (const [key, value] of Object.entries(patch.properties)) {
    if (value === null) delete contact.properties[key];
    else contact.properties[key] = value;
  }
}

/** JSON with sorted keys, so the same body always fingerprints the same for idempotency keys. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(",")}]`;
  if (isRecord(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
