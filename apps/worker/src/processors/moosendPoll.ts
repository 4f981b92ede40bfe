import type { ConsentRow } from "@funnelsync/db";
import type { JobData } from "@funnelsync/jobs";
import { MOOSEND_MAX_BATCH, type MoosendSubscriber } from "@funnelsync/moosend-client";
import type { MoosendGateway } from "@funnelsync/vendor-gateway";
import type { Processor } from "./types";

const OPT_OUT_STATUSES = ["Unsubscribed", "Bounced"] as const;

/** When the member left, by Moosend's clock: a bounce has no `UnsubscribedOn`, its `UpdatedOn` is the nearest. */
function leftAt(member: MoosendSubscriber): Date | null {
  return member.unsubscribedOn ?? member.updatedOn ?? member.createdOn;
}

/**
 * Whether the ledger already covers this opt-out: it holds a withdrawal, or an opt-in given after it
 * (someone who opted back in while Moosend still lists them, their re-subscribe on its way).
 */
function covered(consent: ConsentRow | null, left: Date | null): boolean {
  if (!consent) return false;
  return consent.state !== "subscribed" || (left !== null && consent.changedAt >= left);
}

/** Every member of the list in one status. Pages can shift while they are read; a member seen twice counts once. */
async function allMembers(moosend: MoosendGateway, listId: string, status: (typeof OPT_OUT_STATUSES)[number]): Promise<MoosendSubscriber[]> {
  const members = new Map<string, MoosendSubscriber>();
  for (let page = 1, totalPages = 1; page <= totalPages; page++) {
    const result = await moosend.listMembers(listId, status, { page, pageSize: MOOSEND_MAX_BATCH });
    totalPages = result.totalPages;
    for (const member of result.subscribers) members.set(member.id, member);
  }
  return [...members.values()];
}

/**
 * Reads every unsubscribed and bounced member of each mapped list and feeds each one whose opt-out
 * the consent ledger lacks through the same path as the webhook. Moosend lists members by
 * `CreatedOn`, not by when they left, and has no date filter, so a position in the listing would
 * skip an opt-out that lands on a page already read; comparing with the ledger depends on no order,
 * and costs one call per 1,000 opt-outs. An automation step can be missing or misfire; polling
 * makes sure no opt-out is lost.
 */
export const moosendPoll: Processor<"moosend.poll"> = async (job, deps) => {
  const lists = job.data.listId ? [job.data.listId] : deps.mapping.moosendListIds();
  for (const listId of lists) {
    for (const status of OPT_OUT_STATUSES) {
      const members = await allMembers(deps.moosend, listId, status);
      const consents = await Promise.all(members.map((member) => deps.db.consent.get(member.email)));
      const found: Array<{ name: "moosend.webhook"; data: JobData<"moosend.webhook"> }> = members
        .filter((member, i) => !covered(consents[i] ?? null, leftAt(member)))
        .map((member) => ({
          name: "moosend.webhook",
          data: {
            subscriberId: member.id,
            email: member.email,
            listId,
            tags: [],
            deliveryHash: `poll-${status.toLowerCase()}-${leftAt(member)?.getTime() ?? 0}`,
          },
        }));
      if (found.length) await deps.enqueue(found);
    }
  }
};
