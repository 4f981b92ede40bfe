import type { Queue } from "bullmq";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { VendorCallObservation } from "@funnelsync/vendor-http";

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

/** A registry per worker instance; queue depth is read from Redis at scrape time. */
export function createWorkerMetrics(queues: () => Queue[], options: { defaultMetrics?: boolean } = {}): WorkerMetrics {
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
