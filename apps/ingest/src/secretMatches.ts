import { hash, timingSafeEqual } from "node:crypto";

const digest = (value: string) => hash("sha256", value, "buffer");

/**
 * A constant-time check of a secret path segment; hashing first makes the lengths equal, so length
 * leaks nothing either. The expected secret is hashed once, not on every request.
 */
export function secretMatcher(expected: string | undefined): (given: string) => boolean {
  if (!expected) return () => false;
  const expectedDigest = digest(expected);
  return (given) => timingSafeEqual(digest(given), expectedDigest);
}
