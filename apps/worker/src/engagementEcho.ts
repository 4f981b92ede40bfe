import { setTimeout as sleep } from "node:timers/promises";
import type { Job } from "bullmq";
import type { EngagementRepository } from "@funnelsync/db";
import { EVENT_FINGERPRINT_PREFIX } from "./changeReports";
import type { WorkerDeps } from "./processors/types";

/** How long a webhook waits for the answer to engagement's write to its entity: about a Kommo call's timeout. */
const ANSWER_WAIT_MS = 10_000;
/** How often the webhooks still waiting for an answer ask again. */
const ANSWER_POLL_MS = 50;

interface ReportedEdit {
  entityType: "contacts" | "leads";
  entityId: number;
  /** the webhook's `updated_at` (unix s) */
  updatedAt: number | null;
  fingerprint: string;
}

type DatedEdit = Omit<ReportedEdit, "updatedAt" | "fingerprint"> & { updatedAt: number };

interface Waiter {
  edit: DatedEdit;
  since: number;
  resolve: (ours: boolean) => void;
  reject: (error: unknown) => void;
}

/**
 * Matches webhooks against engagement's field writes, for every job of this process in one query a
 * round: a write's echo comes as a burst (one webhook per entity of a batch of 250), which one query
 * each would spend the database pool on ahead of live sync. A webhook that overtook its write's answer
 * rides along the next rounds until the answer is in.
 */
export class FieldWriteEchoes {
  private waiting: Waiter[] = [];
  private running = false;

  constructor(private readonly engagements: Pick<EngagementRepository, "takeFieldWriteEchoes">) {}

  /** Whether Kommo's change of the entity at `updatedAt` is engagement's own write (true once per write). */
  isOurs(edit: DatedEdit): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ edit, since: Date.now(), resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.waiting.length > 0) {
      const asked = this.waiting;
      this.waiting = [];
      let answers: Array<"ours" | "unanswered" | "other">;
      try {
        answers = await this.engagements.takeFieldWriteEchoes(asked.map((w) => w.edit), ANSWER_WAIT_MS);
      } catch (error) {
        for (const waiter of asked) waiter.reject(error);
        continue;
      }
      const again = asked.filter((waiter, i) => {
        const unanswered = answers[i] === "unanswered" && Date.now() - waiter.since < ANSWER_WAIT_MS;
        if (!unanswered) waiter.resolve(answers[i] === "ours");
        return unanswered;
      });
      // Unreferenced: a wait for an answer never keeps a stopping process alive.
      if (again.length > 0 && this.waiting.length === 0) await sleep(ANSWER_POLL_MS, undefined, { ref: false });
      this.waiting.push(...again);
    }
    this.running = false;
  }
}

/** The field engagement writes on this kind of entity, unless the mapping also copies or watches it. */
function engagementOnlyField(deps: WorkerDeps, entityType: ReportedEdit["entityType"]): number | undefined {
  const settings = deps.mapping.engagement;
  const fieldId = entityType === "contacts" ? settings?.lastEngagementFieldId : settings?.score?.fieldId;
  const synced = deps.mapping.fields.some((field) => field.kommoFieldId === fieldId) || deps.mapping.kommo.optInFieldId === fieldId;
  return synced ? undefined : fieldId;
}

/**
 * True, with the job recorded as skipped, when an `update_contact` / `update_lead` webhook is
 * engagement's own field write coming back: Kommo stamped the entity with the very `updated_at` it
 * answered our write with, and that field is ours alone, so nothing the platforms get has changed.
 * A write is matched once: another edit in the same second has its own webhook, which syncs (and reads
 * Kommo's state, with both edits in it). Asked before the change is claimed against the events feed,
 * which never reports engagement's fields (the reconciler asks only for the synced ones).
 */
export async function isEngagementEcho(job: Job, deps: WorkerDeps, edit: ReportedEdit): Promise<boolean> {
  const fieldId = engagementOnlyField(deps, edit.entityType);
  const { entityType, entityId, updatedAt } = edit;
  if (fieldId === undefined || updatedAt === null || edit.fingerprint.startsWith(EVENT_FINGERPRINT_PREFIX)) return false;
  if (!(await deps.engagementEchoes.isOurs({ entityType, entityId, updatedAt }))) return false;
  const ids = entityType === "leads" ? { leadId: entityId } : { contactId: entityId };
  const reason = `engagement's own write coming back: only field ${fieldId} changed (Kommo's updated_at ${updatedAt} is our write's)`;
  await deps.outcomes.skipped(job, "job", reason, { vendor: "none", ...ids });
  return true;
}
