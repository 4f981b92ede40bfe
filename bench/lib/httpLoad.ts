import { execFile } from "node:child_process";
import http from "node:http";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import autocannon from "autocannon";
import type { PacedRequest } from "./pacedClient";

export interface Posted {
  status: number;
  /** performance.now() just before the request was written, and when its answer had fully arrived. */
  sentAt: number;
  ackAt: number;
}

/** POSTs form bodies over a pool of keep-alive connections, timing each from send to answer. */
export class FormPoster {
  private readonly agent: http.Agent;
  private readonly target: URL;

  constructor(url: string, maxSockets = 32) {
    this.target = new URL(url);
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  post(body: string, timeoutMs = 10_000): Promise<Posted> {
    return new Promise((resolve) => {
      const sentAt = performance.now();
      const req = http.request(
        {
          host: this.target.hostname,
          port: this.target.port,
          path: this.target.pathname,
          method: "POST",
          agent: this.agent,
          headers: { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body), "user-agent": "amoCRM-Webhooks/3.0" },
        },
        (res) => {
          res.resume();
          res.once("end", () => resolve({ status: res.statusCode ?? 0, sentAt, ackAt: performance.now() }));
        },
      );
      // A failed request is an answer too (status 0): the bench reports it rather than stopping.
      req.once("error", () => resolve({ status: 0, sentAt, ackAt: performance.now() }));
      req.setTimeout(timeoutMs, () => req.destroy(new Error("timeout")));
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface PacedRun {
  results: Posted[];
  achievedRate: number;
  /** How late the sender itself ever was: its own pauses, which also delay when it sees answers. */
  maxLagMs: number;
}

/**
 * Open-loop load at a steady `rate` per second for `durationMs`: request i is due at start + i/rate,
 * whatever happened to earlier ones, so a slow answer cannot slow the arrivals down. Latency is timed
 * from each request's actual send; `maxLagMs` says how late the sender itself ever was.
 */
export async function pacedLoad(options: {
  poster: FormPoster;
  rate: number;
  durationMs: number;
  body: (i: number) => string;
}): Promise<PacedRun> {
  const { poster, rate, durationMs } = options;
  const total = Math.round((rate * durationMs) / 1000);
  const intervalMs = 1000 / rate;
  const inFlight: Array<Promise<Posted>> = [];
  const start = performance.now();
  let maxLagMs = 0;
  let next = 0;
  while (next < total) {
    const now = performance.now();
    while (next < total && start + next * intervalMs <= now) {
      maxLagMs = Math.max(maxLagMs, now - (start + next * intervalMs));
      inFlight.push(poster.post(options.body(next)));
      next++;
    }
    const wait = start + next * intervalMs - performance.now();
    if (wait > 0) await sleep(Math.max(1, Math.floor(wait)));
  }
  const results = await Promise.all(inFlight);
  const elapsed = (results.at(-1)?.sentAt ?? start) - (results[0]?.sentAt ?? start);
  return { results, achievedRate: elapsed > 0 ? ((results.length - 1) * 1000) / elapsed : 0, maxLagMs };
}

export interface CannonSummary {
  requestsPerSecond: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationSeconds: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
}

/**
 * autocannon against `url` with a new body for every request (`body(i)`), so ingest enqueues a new
 * job each time rather than landing on an existing job id. Throughput counts 2xx answers only.
 */
export async function cannon(options: {
  url: string;
  body: (i: number) => string;
  connections: number;
  durationSeconds: number;
  overallRate?: number;
}): Promise<CannonSummary> {
  let i = 0;
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSeconds,
    ...(options.overallRate ? { overallRate: options.overallRate } : {}),
    requests: [
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "user-agent": "amoCRM-Webhooks/3.0" },
        setupRequest: (request) => ({ ...request, body: options.body(i++) }),
      },
    ],
  });
  return {
    requestsPerSecond: result["2xx"] / result.duration,
    ok: result["2xx"],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationSeconds: result.duration,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, mean: result.latency.mean },
  };
}

/**
 * `pacedLoad` in a child process of its own (see `pacedClient.ts`), so that the bench's own work (the
 * simulators, what autocannon left on the heap) does not pause the sender or delay the answers it sees.
 * The request goes on standard input: its URL holds the webhook secret, which a command line would
 * show to `ps` and to the error message of a failed child.
 */
export function pacedLoadInProcess(request: PacedRequest): Promise<PacedRun> {
  const script = join(__dirname, "pacedClient.ts");
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, ["--import", "tsx", script], { maxBuffer: 64 * 1024 * 1024, timeout: request.durationMs + 60_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`paced load process failed: ${error.message}\n${stderr}`));
      resolve(JSON.parse(stdout) as PacedRun);
    });
    child.stdin!.end(JSON.stringify(request));
  });
}
