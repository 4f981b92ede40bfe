import type { ConsentRow, Db } from "@funnelsync/db";
import type { Reactivations } from "./moosendSubscriptions";

/** Why an address gets no marketing, for a skipped step's reason; undefined while it may. */
export function optOutReason(consent: ConsentRow | null): string | undefined {
  if (!consent || consent.state === "subscribed") return undefined;
  return `opted out: ${consent.state} via ${consent.source} at ${consent.changedAt.toISOString()}`;
}

/** The addresses among `emails` that opted out, with why (one database look-up for all, batched). */
export async function optOutsAmong(db: Pick<Db, "consent">, emails: string[]): Promise<Map<string, string>> {
  const reasons = await Promise.all(emails.map(async (email) => [email, optOutReason(await db.consent.get(email))] as const));
  return new Map(reasons.filter((pair): pair is readonly [string, string] => pair[1] !== undefined));
}

/**
 * Someone needs re-activating on a list when they opted back in (their consent row says subscribed
 * again) and Moosend has not shown them subscribed on that list since.
 */
export function reactivationsIn(db: Pick<Db, "consent" | "memberships">): Reactivations {
  return {
    async needed(listId, emails) {
      const consents = await Promise.all(emails.map((email) => db.consent.get(email)));
      const backIn = emails.flatMap((email, i) => (consents[i]?.state === "subscribed" ? [{ email, since: consents[i].changedAt }] : []));
      const confirmations = await Promise.all(backIn.map(({ email }) => db.memberships.confirmedAt(email, listId)));
      return new Set(backIn.filter(({ since }, i) => !(confirmations[i] && confirmations[i] >= since)).map(({ email }) => email));
    },
    confirmed: (listId, subscriber) => db.memberships.add({ email: subscriber.email, listId, subscriberId: subscriber.id, confirmedAt: new Date() }),
  };
}
