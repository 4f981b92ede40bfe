import { AsyncLocalStorage } from "node:async_hooks";

/**
 * What a vendor answered one of the facades' writes: the result, and the HTTP status it came with, for
 * the step's outcome row. No status when no call went out for it (nothing to write) or none was seen.
 * A batched call's status is each of its callers' answer.
 */
export class VendorAnswer<T> {
  constructor(readonly value: T, readonly vendorStatus?: number) {}
}

/** A `VendorAnswer`'s value; anything else as it is. */
export type Unanswered<T> = T extends VendorAnswer<infer V> ? V : T;

// The clients report each call's status to one `observe` hook per client, not to the caller: this
// carries it from the hook back to the `answered` call it was made in, and goes no further.
const calls = new AsyncLocalStorage<{ status?: number }>();

/** A client's `observe` hook: notes a call's status for the `answered` it runs in, if any. */
export function noteVendorStatus(status: number | "error" | undefined): void {
  const call = calls.getStore();
  if (call && typeof status === "number") call.status = status;
}

/** Runs one client operation (one or more calls) and answers with its result and the status its last call got. */
export async function answered<T>(operation: () => Promise<T>): Promise<VendorAnswer<T>> {
  const call: { status?: number } = {};
  const value = await calls.run(call, operation);
  return new VendorAnswer(value, call.status);
}

