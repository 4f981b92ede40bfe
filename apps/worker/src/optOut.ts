import type { ConsentRow, Db } from "@funnelsync/db";

/** Why an address gets no marketing, for a skipped step's reason; undefined while it may. */
export function optOutReason(consent: ConsentRow | null): string | undefined {
  if (!consent || consent.state === "subscribed") return undefined;
  return `opted out: ${consent.state} via ${consent.source} at ${consent.changedAt.toISOString()}`;
}

/** The addresses among `emails` that opted out, with why (one database look-up for all, batched). */
export async function optOutsAmong(db: Db, emails: string[]): Promise<Map<string, string>> {
  const reasons = await Promise.all(emails.map(async (email) => [email, optOutReason(await db.consent.get(email))] as const));
  return new Map(reasons.filter((pair): pair is readonly [string, string] => pair[1] !== undefined));
}

/** The addresses among `emails` that opted out once and back in since: their consent row says subscribed. */
export async function optedBackInAmong(db: Db, emails: string[]): Promise<Set<string>> {
  const rows = await Promise.all(emails.map((email) => db.consent.get(email)));
  return new Set(emails.filter((_, i) => rows[i]?.state === "subscribed"));
}
