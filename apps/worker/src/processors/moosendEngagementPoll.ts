import { normalizeEmail } from "@funnelsync/config";
import type { RecordEngagementInput } from "@funnelsync/db";
import type { Processor } from "./types";

const KIND = { Opened: "opened", LinkClicked: "clicked" } as const;

/**
 * Moosend reports opens and clicks per recipient as running totals (`TotalCount`), without times. The
 * n-th open of a recipient in a campaign is stored as its own engagement (`campaign:Opened:email:n`), so
 * overlapping polls store each once, and only the new ones reach Kommo.
 */
export const moosendEngagementPoll: Processor<"moosend.engagementPoll"> = async (job, deps) => {
  if (!deps.engagement) return deps.outcomes.skipped(job, "job", "engagement is off (no engagement block in the mapping)", { vendor: "none" });
  const lists = new Set(deps.mapping.moosendListIds().map((id) => id.toLowerCase()));
  const campaigns = (await deps.moosend.getCampaigns()).filter((c) => c.listIds.some((id) => lists.has(id.toLowerCase())));
  const seenAt = deps.now();
  let stored = 0;
  for (const campaign of campaigns) {
    for (const type of ["Opened", "LinkClicked"] as const) {
      for (let page = 1, pages = 1; page <= pages; page++) {
        const { activity, totalPages } = await deps.moosend.getCampaignActivity(campaign.id, type, page);
        pages = totalPages;
        const events: RecordEngagementInput[] = activity.flatMap(({ email, totalCount }) =>
          Array.from({ length: totalCount }, (_, i) => ({
            source: "moosend" as const,
            eventKey: `${campaign.id}:${type}:${normalizeEmail(email)}:${i + 1}`,
            email,
            kind: KIND[type],
            messageId: campaign.id,
            subject: campaign.subject,
            origin: `Moosend campaign ${campaign.name}`,
            occurredAt: seenAt,
          })),
        );
        stored += await deps.db.engagements.recordMany(events);
      }
    }
  }
  if (stored > 0) await deps.engagement.scheduleFlush();
  deps.logger.debug("worker.engagement: Moosend campaigns polled", { campaigns: campaigns.length, stored });
};
