import { AsyncLocalStorage } from "node:async_hooks";

interface StepCalls {
  lastStatus?: number;
}

/**
 * Carries, through one recorded step, the HTTP status the vendor last answered, so the outcome row
 * holds the vendor's real status code. The clients report every call through `observe`.
 */
export const callContext = new AsyncLocalStorage<StepCalls>();

/** Notes a vendor's answer for the step this code runs in, if any. */
export function noteVendorStatus(status: number | "error" | undefined): void {
  const store = callContext.getStore();
  if (store && typeof status === "number") store.lastStatus = status;
}

/**
 * Runs a call made for several steps at once (a batch) outside whichever step happened to start it,
 * and gives back the status the vendor answered, for each step to note with its own answer
 * (`noteVendorStatus`). Undefined when no call was answered.
 */
export async function callForSeveral<T>(call: () => Promise<T>): Promise<{ value: T; status: number | undefined }> {
  const calls: StepCalls = {};
  const value = await callContext.run(calls, call);
  return { value, status: calls.lastStatus };
}
