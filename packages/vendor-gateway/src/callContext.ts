import { AsyncLocalStorage } from "node:async_hooks";

export interface StepCalls {
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

/** The record of the step this code runs in, if any, for a batch to hand its call's status to. */
export function currentStep(): StepCalls | undefined {
  return callContext.getStore();
}

/**
 * Runs a call made for several steps at once (a batch) outside whichever step happened to start it,
 * and gives the status the vendor answered to the steps it answers (`forSteps`, or each step itself
 * with its answer through `noteVendorStatus`). Undefined when no call was answered.
 */
export async function callForSeveral<T>(call: () => Promise<T>, forSteps: Iterable<StepCalls | undefined> = []): Promise<{ value: T; status: number | undefined }> {
  const calls: StepCalls = {};
  const value = await callContext.run(calls, call);
  if (calls.lastStatus !== undefined) for (const step of forSteps) if (step) step.lastStatus = calls.lastStatus;
  return { value, status: calls.lastStatus };
}
