import type { Db } from "@funnelsync/db";
import { assessKommoWebhook, installKommoWebhook, type KommoWebhookState } from "@funnelsync/kommo-client";
import type { Logger } from "@funnelsync/logger";
import type { KommoGateway } from "@funnelsync/vendor-gateway";

export interface KommoWatchOptions {
  kommo: Pick<KommoGateway, "apiId" | "listWebhooks" | "saveWebhook">;
  db: Db;
  logger: Logger;
  /** The secret path segment of our hook; without it there is no hook to look for. */
  webhookSecret: string | undefined;
  /** Where ingest is reached from outside (PUBLIC_URL); needed to register the hook. */
  publicUrl: string | undefined;
  /** Register or repair the hook when it is missing or disabled. */
  manageWebhook: boolean;
}

/** How far the events feed was read (unix s), and where the first start began: history before it is backfill's job. */
export interface EventsWatermark {
  readTo: number;
  floor: number;
}

/**
 * What the worker knows about the Kommo account that no job reports: whether our webhook is
 * registered and enabled (checked at start and on every reconcile) and how far the events feed was
 * read. Both are kept in Postgres, so every worker process reports the same in /readyz and /metrics,
 * whichever ran the check.
 */
export class KommoWatch {
  private readonly webhookKey: string;
  private readonly eventsKey: string;

  constructor(private readonly options: KommoWatchOptions) {
    this.webhookKey = `kommo-webhook:${options.kommo.apiId}`;
    this.eventsKey = `kommo-events:${options.kommo.apiId}`;
  }

  /** Reads the account's webhooks, repairs ours if allowed, and records the state (one error line when not ok). */
  async checkWebhook(): Promise<KommoWebhookState | undefined> {
    const { kommo, db, logger, webhookSecret, publicUrl, manageWebhook } = this.options;
    if (!webhookSecret) return undefined;
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
    await db.watermarks.set(this.webhookKey, assessment.state);
    return assessment.state;
  }

  /** The state the last check recorded, by any worker process. */
  async webhookState(): Promise<KommoWebhookState | "unknown"> {
    return ((await this.options.db.watermarks.get(this.webhookKey)) as KommoWebhookState | null) ?? "unknown";
  }

  async eventsWatermark(): Promise<EventsWatermark | undefined> {
    const stored = await this.options.db.watermarks.get(this.eventsKey);
    return stored ? (JSON.parse(stored) as EventsWatermark) : undefined;
  }

  async saveEventsWatermark(watermark: EventsWatermark): Promise<void> {
    await this.options.db.watermarks.set(this.eventsKey, JSON.stringify(watermark));
  }
}
