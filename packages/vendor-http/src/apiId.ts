import { hash } from "node:crypto";

/**
 * Names the vendor API (account) a base URL points at, never its key: a short hash of the URL without
 * trailing slashes, for state kept per API (rate-limit windows, polling positions).
 */
export function apiIdOf(baseUrl: string): string {
  return hash("sha256", baseUrl.replace(/\/+$/, "")).slice(0, 8);
}
