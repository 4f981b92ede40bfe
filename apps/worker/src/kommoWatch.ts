import { assessKommoWebhook, installKommoWebhook, type KommoClient, type KommoWebhookState } from "@funnelsync/kommo-client";
import type { Logger } from "@funnelsync/logger";
import type { WorkerMetrics } from "./metrics";

export interface KommoWatchOptions {
  kommo: KommoClient;
  logger: Logger;
  metrics: WorkerMetrics;
  /** The secret path segment of our hook; without it there is no hook to look for. */
  webhookSecret: string | undefined;
  /** Where ingest is reached from outside (PUBLIC_URL); needed to register the hook. */
  publicUrl: string | undefined;
  /** Register or repair the hook when it is missing or disabled. */
  manageWebhook: boolean;
}

/**
 * What the worker knows about the Kommo side that no job reports: whether our webhook is registered
 * and enabled (read at start and on every reconcile), and when the events feed was last read.
 */
export class KommoWatch {
  webhookState: KommoWebhookState | "unknown" = "unknown";

  constructor(private readonly options: KommoWatchOptions) {}

  /** Reads the account's webhooks, repairs ours if allowed, and reports the state (one error line when not ok). */
  async checkWebhook(): Promise<KommoWebhookState | "unknown"> {
    const { kommo, logger, metrics, webhookSecret, publicUrl, manageWebhook } = this.options;
    if (!webhookSecret) return this.webhookState;
    let assessment = assessKommoWebhook(await kommo.listWebhooks(), webhookSecret);
    if (assessment.state !== "ok" && manageWebhook && (assessment.hook || publicUrl)) {
      const { before, after } = await installKommoWebhook(kommo, webhookSecret, publicUrl);
      assessment = after;
      logger.warn("kommo.webhook: repaired (KOMMO_MANAGE_WEBHOOK)", { was: before.state, now: after.state });
    }
    if (assessment.state !== "ok") {
      const lacking = assessment.state === "missing" && assessment.hook ? { lacking: assessment.lacking } : {};
      logger.error(`kommo.webhook: ${assessment.state}: changes now reach funnelsync only through the events feed (npx funnelsync webhooks install)`, lacking);
    }
    this.webhookState = assessment.state;
    metrics.kommoWebhookOk.set(assessment.state === "ok" ? 1 : 0);
    return assessment.state;
  }

  /** The events feed was read up to `readTo` (unix s). */
  reconciled(readTo: number): void {
    this.options.metrics.kommoReconciledUntil.set(readTo);
  }
}
