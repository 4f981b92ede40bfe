import { assessKommoWebhook, installKommoWebhook, maskedDestination, type KommoWebhookAssessment } from "@funnelsync/kommo-client";
import type { KommoGateway } from "@funnelsync/vendor-gateway";
import { UsageError } from "../usageError";

/** Our Kommo webhook as `/readyz` names it, with what is wrong; the secret is never printed. */
export function formatWebhookStatus(assessment: KommoWebhookAssessment, secret: string): string {
  const lines = [`kommo_webhook: ${assessment.state}`];
  if (assessment.hook) lines.push(`  destination  ${maskedDestination(assessment.hook.destination, secret)}`, `  events       ${assessment.hook.settings.join(", ") || "-"}`);
  if (assessment.hook && assessment.lacking.length) lines.push(`  lacking      ${assessment.lacking.join(", ")}`);
  if (assessment.state !== "ok") lines.push("  changes reach funnelsync only through the events feed until it is fixed: npx funnelsync webhooks install");
  return lines.join("\n");
}

export async function webhookStatus(kommo: Pick<KommoGateway, "listWebhooks">, secret: string): Promise<KommoWebhookAssessment> {
  return assessKommoWebhook(await kommo.listWebhooks(), secret);
}

/** Registers or repairs our hook at PUBLIC_URL; an ok hook is left alone. */
export async function installWebhook(kommo: Pick<KommoGateway, "listWebhooks" | "saveWebhook">, secret: string, publicUrl: string | undefined) {
  const current = await webhookStatus(kommo, secret);
  if (!current.hook && !publicUrl) throw new UsageError("webhooks install: PUBLIC_URL is not set (the public origin Kommo reaches ingest at, e.g. https://sync.example.com)");
  const { before, after } = await installKommoWebhook(kommo, secret, publicUrl);
  const did = before.state === "ok" ? "already registered, nothing changed" : before.hook ? `repaired (was ${before.state})` : "registered";
  return { did, after };
}
