export const SECRET_KEY = /authorization|api[-_]?key|token|secret|password|webhook-signature|cookie/i;
const SECRET_QUERY = /([?&](?:apikey|api_key|access_token|token|key)=)[^&\s"']+/gi;
const SECRET_PATH = /(\/webhooks\/(?:kommo|moosend)\/)(?!:secret)[^/?\s"']+/g;
export const REDACTED = "[redacted]";

/** Scrubs credentials out of a string: known secret values, key-like query parameters, secret path segments. */
export function redactString(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 6) out = out.split(secret).join(REDACTED);
  return out.replace(SECRET_QUERY, `$1${REDACTED}`).replace(SECRET_PATH, `$1${REDACTED}`);
}

/** A deep copy with secret-named keys masked and every string scrubbed. */
export function redactValue(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof value === "string") return redactString(value, secrets);
  if (value === null || typeof value !== "object" || depth > 8) return value;
  if (value instanceof Error) {
    return { name: value.name, message: redactString(value.message, secrets) };
  }
  if (Array.isArray(value)) return value.map((item) => redactValue(item, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? REDACTED : redactValue(item, secrets, depth + 1);
  }
  return out;
}
