import type { Processor } from "./types";
import { syncLead } from "./syncLead";

/** A lead moved to another stage: its list, its properties and the stage's events. */
export const leadStatusChanged: Processor<"kommo.leadStatusChanged"> = (job, deps) => syncLead(job, deps, "statusChanged");
