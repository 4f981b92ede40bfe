/**
 * What a JSON column stores for `value`, as the text of a `::jsonb` parameter in our raw statements:
 * plain JSON as `JSON.stringify` sends it (dates become strings, undefined fields vanish);
 * `undefined` and `null` are stored as JSON null.
 */
export function jsonText(value: unknown): string {
  return JSON.stringify(value ?? null);
}
