/**
 * Addresses are stored, compared and looked up trimmed and lower-case, so `Ana@X.test ` and
 * `ana@x.test` are one person. It lives in config, the one small package (zod and yaml, no I/O) that
 * every app, the database layer and the vendor clients can import.
 */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
