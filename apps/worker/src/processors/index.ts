import { contactChanged } from "./contactChanged";
import { engagementFlush } from "./engagementFlush";
import { ingestBatch } from "./ingestBatch";
import { kommoReconcile } from "./kommoReconcile";
import { leadAdded } from "./leadAdded";
import { leadDeleted } from "./leadDeleted";
import { leadStatusChanged } from "./leadStatusChanged";
import { leadUpdated } from "./leadUpdated";
import { loopsEngagement } from "./loopsEngagement";
import { loopsWebhook } from "./loopsWebhook";
import { moosendEngagementPoll } from "./moosendEngagementPoll";
import { moosendPoll } from "./moosendPoll";
import { moosendWebhook } from "./moosendWebhook";
import { retention } from "./retention";
import type { ProcessorMap } from "./types";

/** Typed from the job catalog: a job without a processor here does not compile. */
export const processors: ProcessorMap = {
  "kommo.leadAdded": leadAdded,
  "kommo.leadStatusChanged": leadStatusChanged,
  "kommo.leadUpdated": leadUpdated,
  "kommo.contactChanged": contactChanged,
  "kommo.leadDeleted": leadDeleted,
  "kommo.reconcile": kommoReconcile,
  "loops.webhook": loopsWebhook,
  "moosend.webhook": moosendWebhook,
  "moosend.poll": moosendPoll,
  "ingest.batch": ingestBatch,
  "maintenance.retention": retention,
  "loops.engagement": loopsEngagement,
  "engagement.flush": engagementFlush,
  "moosend.engagementPoll": moosendEngagementPoll,
};
