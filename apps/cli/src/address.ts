import { normalizeEmail } from "@funnelsync/config";
import { UsageError } from "./usageError";

/** The address a command was given, trimmed and lower-case as the database keeps it; a usage error if it is none. */
export function parseAddress(command: string, email: string): string {
  const address = normalizeEmail(email);
  if (!/^[^\s@]+@[^\s@]+$/.test(address)) throw new UsageError(`${command}: not an e-mail address: ${JSON.stringify(email)}`);
  return address;
}
