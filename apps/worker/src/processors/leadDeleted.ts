import type { Processor } from "./types";
import { listsLeftBehind, removeFromMoosend } from "./syncLead";

/**
 * A lead deleted in Kommo sends nothing to the platforms. Moosend lists with `removeOnExit` let the
 * person go as if the lead had left its stage, unless another of their leads keeps them there. Kommo
 * no longer answers for the lead, so who the person was comes from what we recorded syncing it.
 */
export const leadDeleted: Processor<"kommo.leadDeleted"> = async (job, deps) => {
  const { leadId } = job.data;
  const reason = "lead deleted in Kommo";
  await deps.db.kommoRecords.forgetLeads([leadId]);
  const synced = (await deps.db.outcomes.forLead(leadId)).filter((row) => row.email !== null).at(-1);
  if (synced?.email && deps.mapping.moosendListsLeftOnExit().length > 0) {
    const contact = synced.contactId === null ? null : await deps.kommo.contact(synced.contactId);
    const who = { leadId, contactId: synced.contactId, email: synced.email };
    for (const listId of await listsLeftBehind(deps, { leadId, contact, email: synced.email }, [])) await removeFromMoosend(job, deps, who, listId);
  }
  return deps.outcomes.skipped(job, "job", reason, { vendor: "none", leadId, contactId: synced?.contactId, email: synced?.email });
};
