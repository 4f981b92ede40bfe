import { ValidationError } from "@funnelsync/vendor-http";
import type { KommoClient } from "./kommoClient";
import type { KommoWebhook } from "./kommoEvents";
import { FUNNELSYNC_WEBHOOK_SETTINGS } from "./webhookSettings";

export type KommoWebhookState = "ok" | "missing" | "disabled";

export interface KommoWebhookAssessment {
  state: KommoWebhookState;
  /** Our hook, when one is registered. */
  hook: KommoWebhook | undefined;
  /** Settings our hook lacks (a hook lacking some counts as missing). */
  lacking: string[];
}

/** Our destination, under whatever host: the secret path segment is what makes it ours. */
export function kommoWebhookPath(secret: string): string {
  return `/webhooks/kommo/${secret}`;
}

/** Whether the account's hooks include ours, with every needed setting, enabled. */
export function assessKommoWebhook(hooks: readonly KommoWebhook[], secret: string): KommoWebhookAssessment {
  const path = kommoWebhookPath(secret);
  const ours = hooks.filter((h) => {
    try {
      return new URL(h.destination).pathname.replace(/\/+$/, "") === path;
    } catch {
      return false;
    }
  });
  const lackingOf = (h: KommoWebhook) => FUNNELSYNC_WEBHOOK_SETTINGS.filter((s) => !h.settings.includes(s));
  const hook = ours.find((h) => !h.disabled && lackingOf(h).length === 0) ?? ours.find((h) => !h.disabled) ?? ours[0];
  if (!hook) return { state: "missing", hook: undefined, lacking: [...FUNNELSYNC_WEBHOOK_SETTINGS] };
  const lacking = lackingOf(hook);
  if (hook.disabled) return { state: "disabled", hook, lacking };
  return { state: lacking.length ? "missing" : "ok", hook, lacking };
}

/** Our destination with the secret masked, for output an operator may paste somewhere. */
export function maskedDestination(destination: string, secret: string): string {
  return destination.split(secret).join("<KOMMO_WEBHOOK_SECRET>");
}

/**
 * Registers our hook at `publicUrl`, or repairs it (saved again with every needed setting, which also
 * re-enables it); does nothing when it is ok. Repeatable.
 */
export async function installKommoWebhook(
  kommo: Pick<KommoClient, "listWebhooks" | "saveWebhook">,
  secret: string,
  publicUrl: string | undefined,
): Promise<{ before: KommoWebhookAssessment; after: KommoWebhookAssessment }> {
  const before = assessKommoWebhook(await kommo.listWebhooks(), secret);
  if (before.state === "ok") return { before, after: before };
  const destination = before.hook?.destination ?? (publicUrl ? `${publicUrl.replace(/\/+$/, "")}${kommoWebhookPath(secret)}` : undefined);
  if (!destination) throw new ValidationError("kommo", "PUBLIC_URL is needed to register the webhook");
  await kommo.saveWebhook(destination, [...new Set([...(before.hook?.settings ?? []), ...FUNNELSYNC_WEBHOOK_SETTINGS])]);
  return { before, after: assessKommoWebhook(await kommo.listWebhooks(), secret) };
}
