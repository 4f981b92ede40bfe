import type { Processor } from "./types";
import { syncLead } from "./syncLead";

/** A lead's fields changed without a move: refresh list membership and properties, fire no events. */
export const leadUpdated: Processor<"kommo.leadUpdated"> = (job, deps) => syncLead(job, deps, "updated");
