/** Addresses are stored and looked up trimmed and lower-case, so `Ana@X.test ` and `ana@x.test` are one person. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
