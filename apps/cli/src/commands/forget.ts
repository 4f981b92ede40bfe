import type { ErasureRepository, ErasureResult } from "@funnelsync/db";
import type { LoopsGateway, MoosendGateway } from "@funnelsync/vendor-gateway";
import { isVendorError } from "@funnelsync/vendor-http";
import { parseAddress } from "../address";

export interface ForgetDeps {
  erasure: Pick<ErasureRepository, "forget">;
  /** With --vendors: the vendors the mapping uses (undefined: not used). */
  moosend?: Pick<MoosendGateway, "delete">;
  loops?: Pick<LoopsGateway, "deleteContact">;
  /** Every Moosend list the mapping names: the address may be on one we never recorded. */
  mappedMoosendListIds: string[];
}

export interface ForgetOptions {
  vendors?: boolean;
  dryRun?: boolean;
}

/** What happened at a vendor; `would delete` in a dry run. */
export type VendorDeletion = "deleted" | "not there" | "would delete" | { failed: string };

export interface ForgetReport {
  dryRun: boolean;
  erasure: ErasureResult;
  moosend: Array<{ listId: string; result: VendorDeletion }>;
  loops: Array<{ key: string; result: VendorDeletion }>;
}

/** Why a vendor call failed, without its message (an answer may quote the address). */
function failure(err: unknown): { failed: string } {
  if (isVendorError(err)) return { failed: err.status === undefined ? "no answer" : `HTTP ${err.status}` };
  return { failed: err instanceof Error ? err.name : "error" };
}

async function attempt(dryRun: boolean, call: () => Promise<boolean>): Promise<VendorDeletion> {
  if (dryRun) return "would delete";
  try {
    return (await call()) ? "deleted" : "not there";
  } catch (err) {
    return failure(err);
  }
}

/**
 * Erases the address from our tables (keeping its keyed hash as a suppression), then, with
 * `vendors`, deletes it from every Moosend list we manage and from Loops. Safe to run again: a
 * failed vendor step is retried, and what is gone stays gone.
 */
export async function forget(deps: ForgetDeps, email: string, options: ForgetOptions = {}): Promise<ForgetReport> {
  const address = parseAddress("forget", email);
  const dryRun = options.dryRun ?? false;
  const erasure = await deps.erasure.forget(address, { dryRun });
  const report: ForgetReport = { dryRun, erasure, moosend: [], loops: [] };
  if (!options.vendors) return report;

  if (deps.moosend) {
    const moosend = deps.moosend;
    const lists = [...new Map([...deps.mappedMoosendListIds, ...erasure.moosendListIds].map((id) => [id.toLowerCase(), id])).values()].sort();
    for (const listId of lists) report.moosend.push({ listId, result: await attempt(dryRun, () => moosend.delete(listId, address)) });
  }
  if (deps.loops) {
    const loops = deps.loops;
    report.loops.push({ key: "e-mail", result: await attempt(dryRun, async () => (await loops.deleteContact({ email: address })).value) });
    // A contact linked by userId may carry an older address of the person.
    for (const userId of erasure.loopsUserIds) {
      report.loops.push({ key: `userId ${userId}`, result: await attempt(dryRun, async () => (await loops.deleteContact({ userId })).value) });
    }
  }
  return report;
}

export function forgetFailed(report: ForgetReport): boolean {
  return [...report.moosend, ...report.loops].some((step) => typeof step.result === "object");
}

const describe = (result: VendorDeletion) => (typeof result === "object" ? `failed (${result.failed}); run forget --vendors again` : result);

/** The report, naming the address only by the start of its hash (this output may end up in a log). */
export function formatForget(report: ForgetReport): string {
  const { erasure } = report;
  const ref = `suppression ${erasure.hash.slice(0, 12)}`;
  const tables = Object.entries(erasure.changes);
  const lines = [
    report.dryRun
      ? `forget (dry run, nothing changed): would erase the address and keep ${ref}`
      : erasure.newlySuppressed
        ? `forget: erased the address; kept ${ref} (a keyed hash only)`
        : `forget: the address was already erased (${ref})`,
  ];
  if (tables.length === 0) lines.push("  no personal data of it left in the database");
  for (const [table, changes] of tables) lines.push(`  ${table}: ${changes} ${report.dryRun ? "to change" : "changed"}`);
  for (const { listId, result } of report.moosend) lines.push(`  Moosend list ${listId}: ${describe(result)}`);
  for (const { key, result } of report.loops) lines.push(`  Loops contact by ${key}: ${describe(result)}`);
  return lines.join("\n");
}
