import type { Processor } from "./types";
import { syncLead } from "./syncLead";

/** A new lead: its stage's list, the Loops contact and the `onLeadAdded` event. */
export const leadAdded: Processor<"kommo.leadAdded"> = (job, deps) => syncLead(job, deps, "added");
