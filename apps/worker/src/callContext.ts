import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Carries, through one recorded step, the HTTP status the vendor last answered, so the outcome row
 * holds the vendor's real status code. The clients report every call through `observe`.
 */
export const callContext = new AsyncLocalStorage<{ lastStatus?: number }>();

export function noteVendorStatus(status: number | "error"): void {
  const store = callContext.getStore();
  if (store && typeof status === "number") store.lastStatus = status;
}
