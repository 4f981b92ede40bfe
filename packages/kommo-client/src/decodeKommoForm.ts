import { parse as parseFlatForm } from "node:querystring";

/**
 * What a Kommo webhook body may hold. Real bodies reach ~100 parameters (a contact with 30 linked
 * leads) and depth 7; the limits are body-parser 2.x's extended defaults, raised where they cut real bodies.
 */
export const KOMMO_WEBHOOK_LIMITS = { bytes: "1mb", parameters: 10_000, depth: 32 } as const;

/** A form body ingest refuses: `status` is the HTTP answer (413 too many parameters, 400 too deep). */
export class KommoFormError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 413,
  ) {
    super(message);
    this.name = "KommoFormError";
  }
}

type Json = Record<string, unknown>;

/** Keys that would reach an object's prototype if used as property names. */
const UNSAFE_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** `leads[status][0][id]` → `["leads", "status", "0", "id"]`; a key that is not cleanly bracketed stays whole. */
function segmentsOf(key: string): string[] {
  const open = key.indexOf("[");
  if (open <= 0 || !key.endsWith("]")) return [key];
  const inner = key.slice(open + 1, -1).split("][");
  return inner.some((s) => s.includes("[") || s.includes("]")) ? [key] : [key.slice(0, open), ...inner];
}

/** An object keyed exactly "0" … "n-1" becomes an array, as qs (and a JSON body) would give it. */
function listsAsArrays(value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  const record = value as Json;
  const keys = Object.keys(record); // integer-like keys come first, ascending
  for (const key of keys) record[key] = listsAsArrays(record[key]);
  return keys.length > 0 && keys.every((key, i) => key === String(i)) ? keys.map((key) => record[key]) : record;
}

/**
 * Kommo's form-encoded webhook body (PHP bracket keys, `leads[status][0][id]=…`) as nested records,
 * the shape a JSON body of the same change has. Node's own `querystring` does the splitting and
 * percent-decoding; qs (body-parser's `extended` mode) did the same job at a third of ingest's CPU
 * per webhook. Index keys never build sparse arrays: `linked_leads_id[35144366][ID]` stays a key.
 * A repeated key keeps all its values, as an array.
 */
export function decodeKommoForm(text: string): Json {
  let parameters = text.length > 0 ? 1 : 0;
  for (let at = text.indexOf("&"); at !== -1; at = text.indexOf("&", at + 1)) {
    if (++parameters > KOMMO_WEBHOOK_LIMITS.parameters) throw new KommoFormError("too many parameters", 413);
  }
  const flat = parseFlatForm(text, "&", "=", { maxKeys: 0 });
  const root: Json = {};
  for (const [key, value] of Object.entries(flat)) {
    const path = segmentsOf(key);
    if (path.length - 1 > KOMMO_WEBHOOK_LIMITS.depth) throw new KommoFormError(`nested deeper than ${KOMMO_WEBHOOK_LIMITS.depth} levels`, 400);
    if (path.some((segment) => UNSAFE_KEYS.has(segment))) continue;
    let node = root;
    for (const segment of path.slice(0, -1)) {
      const next = node[segment];
      node = typeof next === "object" && next !== null && !Array.isArray(next) ? (next as Json) : (node[segment] = {});
    }
    node[path.at(-1)!] = value;
  }
  return listsAsArrays(root) as Json;
}
