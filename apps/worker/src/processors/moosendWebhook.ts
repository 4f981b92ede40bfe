import type { MoosendSubscriber } from "@funnelsync/moosend-client";
import { applyEspSignal } from "../espSignal";
import type { Processor } from "./types";

/**
 * A Moosend automation's webhook step, or a change found by polling. Moosend signs nothing, so the
 * subscriber's status is confirmed through the API before anything is written to Kommo.
 */
export const moosendWebhook: Processor<"moosend.webhook"> = async (job, deps) => {
  const { subscriberId } = job.data;
  const lists = job.data.listId ? [job.data.listId] : deps.mapping.moosendListIds();
  let found: { listId: string; subscriber: MoosendSubscriber } | undefined;
  for (const listId of lists) {
    const subscriber = await deps.moosend.findById(listId, subscriberId);
    if (subscriber) {
      found = { listId, subscriber };
      break;
    }
  }
  if (!found) return deps.outcomes.skipped(job, "job", "subscriber not found in any mapped Moosend list", { vendor: "moosend" });
  const { subscriber, listId } = found;
  const email = subscriber.email;
  const context = `list ${listId}`;
  if (subscriber.status === "unsubscribed") return applyEspSignal(job, deps, { email, kind: "unsubscribed", source: "moosend", context });
  if (subscriber.status === "bounced") return applyEspSignal(job, deps, { email, kind: "hardBounce", source: "moosend", context });
  return deps.outcomes.skipped(job, "job", `not confirmed: Moosend says the subscriber is ${subscriber.status}`, { vendor: "moosend", email });
};
