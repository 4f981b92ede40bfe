import type { Queue } from "bullmq";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Vendor, VendorCallObservation } from "@funnelsync/vendor-http";
import type { VendorState } from "@funnelsync/vendor-gateway";

const VENDORS: readonly Vendor[] = ["kommo", "moosend", "loops"];

export interface WorkerMetrics {
  registry: Registry;
  jobs: Counter<"queue" | "name" | "outcome">;
  jobSeconds: Histogram<"queue" | "name">;
  vendorCalls: Counter<"vendor" | "method" | "status">;
  vendorSeconds: Histogram<"vendor" | "limit_key">;
  vendor429s: Counter<"vendor">;
  rateLimited: Counter<"vendor">;
  /** Kommo calls made for opens and clicks (included in `vendorCalls` too). */
  engagementKommoCalls: Counter;
  observeVendorCall(call: VendorCallObservation): void;
}

/** The Kommo account's state shared by every worker process (kept in Postgres), read at scrape time. */
export interface KommoReadings {
  webhookState(): Promise<string>;
  eventsWatermark(): Promise<{ readTo: number } | undefined>;
}

/**
 * A registry per worker instance; queue depth and the vendors' pauses and blocks are read from Redis,
 * the Kommo account's state from Postgres, at scrape time.
 */
export function createWorkerMetrics(
  queues: () => Queue[],
  options: { defaultMetrics?: boolean; vendorState?: (vendor: Vendor) => Promise<VendorState>; kommo?: () => KommoReadings | undefined } = {},
): WorkerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "funnelsync_worker_" });
  const registers = [registry];
  const vendorCalls = new Counter({ name: "funnelsync_vendor_calls_total", help: "Vendor HTTP calls by vendor, method and status (or error).", labelNames: ["vendor", "method", "status"], registers });
  const vendorSeconds = new Histogram({ name: "funnelsync_vendor_call_seconds", help: "Vendor call durations.", labelNames: ["vendor", "limit_key"], buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers });
  const vendor429s = new Counter({ name: "funnelsync_vendor_429_total", help: "Throttling answers received, by vendor.", labelNames: ["vendor"], registers });
  new Gauge({
    name: "funnelsync_queue_jobs",
    help: "Jobs per queue and state.",
    labelNames: ["queue", "state"],
    registers,
    async collect() {
      for (const queue of queues()) {
        const counts = await queue.getJobCounts("waiting", "active", "delayed", "failed", "completed", "prioritized");
        for (const [state, count] of Object.entries(counts)) this.set({ queue: queue.name, state }, count);
      }
    },
  });
  const vendorState = options.vendorState;
  if (vendorState) {
    // Shared by every process (the state lives in Redis): each scrape reads it once for both gauges.
    let reading: Promise<Array<[Vendor, VendorState]>> | undefined;
    const states = () =>
      (reading ??= Promise.all(VENDORS.map(async (vendor) => [vendor, await vendorState(vendor)] as [Vendor, VendorState])).finally(() => {
        reading = undefined;
      }));
    new Gauge({
      name: "funnelsync_vendor_paused_seconds",
      help: "How long a vendor's 429 still asks us to wait before calling it again (0 = not paused).",
      labelNames: ["vendor"],
      registers,
      async collect() {
        for (const [vendor, state] of await states()) this.set({ vendor }, state.pausedMs / 1000);
      },
    });
    new Gauge({
      name: "funnelsync_vendor_blocked",
      help: "1 while a vendor blocks every call (Kommo's 403 IP block) and its work waits for a probe or `funnelsync resume`.",
      labelNames: ["vendor"],
      registers,
      async collect() {
        for (const [vendor, state] of await states()) this.set({ vendor }, state.blockedSince ? 1 : 0);
      },
    });
  }
  new Gauge({
    name: "funnelsync_kommo_webhook_ok",
    help: "1 while our Kommo webhook exists with the needed events and is not disabled, else 0.",
    registers,
    async collect() {
      const readings = options.kommo?.();
      if (readings) this.set((await readings.webhookState()) === "ok" ? 1 : 0);
    },
  });
  new Gauge({
    name: "funnelsync_kommo_reconciled_until_seconds",
    help: "Unix time up to which Kommo's events feed has been read (0: not yet).",
    registers,
    async collect() {
      const readings = options.kommo?.();
      if (readings) this.set((await readings.eventsWatermark())?.readTo ?? 0);
    },
  });
  return {
    registry,
    jobs: new Counter({ name: "funnelsync_jobs_total", help: "Jobs finished by queue, name and outcome.", labelNames: ["queue", "name", "outcome"], registers }),
    jobSeconds: new Histogram({ name: "funnelsync_job_seconds", help: "Job processing time.", labelNames: ["queue", "name"], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers }),
    vendorCalls,
    vendorSeconds,
    vendor429s,
    engagementKommoCalls: new Counter({ name: "funnelsync_engagement_kommo_calls_total", help: "Kommo calls made to bring opens and clicks to the card.", registers }),
    rateLimited: new Counter({ name: "funnelsync_rate_limited_total", help: "Times a queue paused for a vendor's rate limit.", labelNames: ["vendor"], registers }),
    observeVendorCall(call) {
      vendorCalls.inc({ vendor: call.vendor, method: call.method, status: String(call.status) });
      vendorSeconds.observe({ vendor: call.vendor, limit_key: call.limitKey }, call.durationMs / 1000);
      if (call.status === 429) vendor429s.inc({ vendor: call.vendor });
    },
  };
}
