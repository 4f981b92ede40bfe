import type { JobData } from "@funnelsync/jobs";
import type { Processor } from "./types";

const STATUSES = [
  { status: "Unsubscribed", hash: "unsubscribed" },
  { status: "Bounced", hash: "bounced" },
] as const;
const PAGE_SIZE = 500;

/**
 * Reads each mapped list's unsubscribed and bounced members that changed since the stored watermark
 * and feeds each one through the same path as the webhook. An automation step can be missing or
 * misfire; polling makes sure no opt-out is lost.
 */
export const moosendPoll: Processor<"moosend.poll"> = async (job, deps) => {
  const lists = job.data.listId ? [job.data.listId] : deps.mapping.moosendListIds();
  for (const listId of lists) {
    for (const { status, hash } of STATUSES) {
      // Per API as well as per list: two Moosend endpoints (e.g. test simulators) never share a position.
      const key = `moosend-poll:${deps.moosend.apiId}:${listId}:${hash}`;
      const since = Number((await deps.db.watermarks.get(key)) ?? 0);
      let newest = since;
      const found: Array<{ name: "moosend.webhook"; data: JobData<"moosend.webhook"> }> = [];
      for (let page = 1, totalPages = 1; page <= totalPages; page++) {
        const result = await deps.moosend.listMembers(listId, status, { page, pageSize: PAGE_SIZE });
        totalPages = result.totalPages;
        for (const subscriber of result.subscribers) {
          const changedAt = (subscriber.unsubscribedOn ?? subscriber.updatedOn ?? subscriber.createdOn)?.getTime() ?? 0;
          if (changedAt <= since) continue;
          newest = Math.max(newest, changedAt);
          found.push({
            name: "moosend.webhook",
            data: { subscriberId: subscriber.id, email: subscriber.email, listId, tags: [], deliveryHash: `poll-${hash}-${changedAt}` },
          });
        }
      }
      if (found.length) await deps.enqueue(found);
      if (newest > since) await deps.db.watermarks.set(key, String(newest));
    }
  }
};
