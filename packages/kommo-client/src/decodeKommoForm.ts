import { unescape as unescapeLeniently } from "node:querystring";

/**
 * What a webhook body may hold, form or JSON, on every ingest route: bytes, values (form
 * parameters; JSON members and elements) and levels below the top. Kommo's are the largest real
 * bodies: ~100 parameters (a contact with 30 linked leads) and depth 7; the limits are body-parser
 * 2.x's extended defaults, raised where they cut real bodies.
 */
export const KOMMO_WEBHOOK_LIMITS = { bytes: "1mb", parameters: 10_000, depth: 32 } as const;

/** A form body over one of the limits: ingest answers 413, naming the limit. */
export class KommoFormError extends Error {
  readonly status = 413;
  constructor(message: string) {
    super(message);
    this.name = "KommoFormError";
  }
}

type Json = Record<string, unknown>;

/** Keys that would reach an object's prototype if used as property names. */
const UNSAFE_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** One form component: `+` is a space, `%XX` a byte of UTF-8; a malformed escape stays as written. */
function decodeComponent(raw: string): string {
  const spaced = raw.includes("+") ? raw.replaceAll("+", " ") : raw;
  if (!spaced.includes("%")) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return unescapeLeniently(spaced);
  }
}

/** `leads[status][0][id]` → `["leads", "status", "0", "id"]`; a key that is not cleanly bracketed stays whole. */
function segmentsOf(key: string): string[] {
  const open = key.indexOf("[");
  if (open <= 0 || key.charCodeAt(key.length - 1) !== 93 /* ] */) return [key];
  const segments = [key.slice(0, open)];
  for (let at = open; at < key.length; ) {
    const close = key.indexOf("]", at + 1);
    if (key.charCodeAt(at) !== 91 /* [ */ || close === -1) return [key];
    const segment = key.slice(at + 1, close);
    if (segment.includes("[")) return [key];
    segments.push(segment);
    at = close + 1;
  }
  return segments;
}

function asListIfIndexed(record: Json): unknown {
  const keys = Object.keys(record); // integer-like keys come first, ascending
  return keys.length > 0 && keys.every((key, i) => key === String(i)) ? keys.map((key) => record[key]) : record;
}

/**
 * Every object keyed exactly "0" … "n-1" becomes an array, as qs (and a JSON body) would give it.
 * Iterative, deepest first: the tree comes from untrusted input.
 */
function listsAsArrays(root: Json): unknown {
  const holder: Json = { root };
  const slots: Array<[Json, string]> = [[holder, "root"]];
  for (let i = 0; i < slots.length; i++) {
    const [parent, key] = slots[i]!;
    const node = parent[key];
    if (typeof node === "object" && node !== null) for (const child of Object.keys(node)) slots.push([node as Json, child]);
  }
  for (let i = slots.length - 1; i >= 0; i--) {
    const [parent, key] = slots[i]!;
    const node = parent[key];
    if (typeof node === "object" && node !== null && !Array.isArray(node)) parent[key] = asListIfIndexed(node as Json);
  }
  return holder.root;
}

function isSafe(path: string[]): boolean {
  for (const segment of path) if (UNSAFE_KEYS.has(segment)) return false;
  return true;
}

/** Sets `path` in `root`; a repeated key keeps all its values, as an array. */
function place(root: Json, path: string[], value: string): void {
  let node = root;
  for (let i = 0; i < path.length - 1; i++) {
    const next = node[path[i]!];
    node = typeof next === "object" && next !== null && !Array.isArray(next) ? (next as Json) : (node[path[i]!] = {});
  }
  const leaf = path[path.length - 1]!;
  const previous = node[leaf];
  if (typeof previous === "string") node[leaf] = [previous, value];
  else if (Array.isArray(previous)) previous.push(value);
  else node[leaf] = value;
}

/**
 * Kommo's form-encoded webhook body (PHP bracket keys, `leads[status][0][id]=…`) as nested records,
 * the shape a JSON body of the same change has, in one pass over the text with each component
 * decoded by the engine's `decodeURIComponent`. body-parser's qs did this at a third of ingest's CPU
 * per webhook, Node's `querystring` plus a nesting step at twice this one's cost. Index keys never
 * build sparse arrays: `linked_leads_id[35144366][ID]` stays a key.
 */
export function decodeKommoForm(text: string): Json {
  const root: Json = {};
  let parameters = 0;
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf("&", start);
    if (end === -1) end = text.length;
    if (end > start) {
      if (++parameters > KOMMO_WEBHOOK_LIMITS.parameters) throw new KommoFormError(`more than ${KOMMO_WEBHOOK_LIMITS.parameters} parameters`);
      const eq = text.indexOf("=", start);
      const split = eq !== -1 && eq < end;
      const path = segmentsOf(decodeComponent(text.slice(start, split ? eq : end)));
      if (path.length - 1 > KOMMO_WEBHOOK_LIMITS.depth) throw new KommoFormError(`nested deeper than ${KOMMO_WEBHOOK_LIMITS.depth} levels`);
      if (isSafe(path)) place(root, path, split ? decodeComponent(text.slice(eq + 1, end)) : "");
    }
    start = end + 1;
  }
  return listsAsArrays(root) as Json;
}
