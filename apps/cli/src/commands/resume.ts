import type { Vendor } from "@funnelsync/vendor-http";
import { DEFAULT_BLOCKED_RECHECK_MS, type RedisGate } from "@funnelsync/vendor-gateway";

/** The vendors whose block funnelsync recognises and stops for: Kommo's 403 IP block. */
export const RESUMABLE_VENDORS = ["kommo"] as const satisfies readonly Vendor[];
export type ResumableVendor = (typeof RESUMABLE_VENDORS)[number];

/**
 * Lifts the worker's stop after a vendor's block (once its support lifted the block itself): every
 * worker process reads the same Redis state, and its waiting jobs call the vendor again at their next
 * look. Resolves to whether there was a stop to lift.
 */
export async function resumeVendor(gate: Pick<RedisGate, "unblock">, vendor: ResumableVendor): Promise<boolean> {
  return gate.unblock(vendor, "operator");
}

export function formatResume(vendor: ResumableVendor, lifted: boolean): string {
  return lifted
    ? `${vendor}: block lifted; waiting jobs call ${vendor} again within ${DEFAULT_BLOCKED_RECHECK_MS / 1000} s (if it still blocks us, the next call stops them again)`
    : `${vendor}: not blocked, nothing to lift`;
}
