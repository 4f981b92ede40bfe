import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { normalizeEmail } from "@funnelsync/config";
import {
  startKommoSimulator,
  startLoopsSimulator,
  startMoosendSimulator,
  type KommoSimulator,
  type LoggedRequest,
  type LoopsSimulator,
  type MoosendSimulator,
  type RequestLog,
} from "@funnelsync/simulators";

export type VendorName = "kommo" | "moosend" | "loops";

/** A request a simulator answered, stamped (performance.now(), this process) when its answer finished. */
export interface TimedRequest {
  vendor: VendorName;
  entry: LoggedRequest;
  finishedAt: number;
}

export interface BenchVendors {
  kommo: KommoSimulator;
  moosend: MoosendSimulator;
  loops: LoopsSimulator;
  /** Every request the three simulators answered, in the order their answers finished. */
  log: TimedRequest[];
  /** The apps' vendor variables: simulator URLs and this run's credentials and webhook secrets. */
  env: Record<string, string>;
  /** Ingest's Kommo webhook path, secret included: never print it. */
  kommoHookPath: string;
  close(): Promise<void>;
}

/** The simulators' answers wait this long: a realistic round trip to a vendor's API. */
export const VENDOR_LATENCY_MS = 50;

/**
 * The requests a simulator logs are stamped when they arrive; the bench needs when they were answered
 * ("last vendor call completed"). The recorder adds an entry on the response's `finish`, so wrapping
 * `add` stamps exactly that moment, on the same clock as the bench's send times.
 */
function timeRequests(vendor: VendorName, requests: RequestLog, log: TimedRequest[]): void {
  const add = requests.add.bind(requests);
  requests.add = (entry: LoggedRequest) => {
    add(entry);
    log.push({ vendor, entry, finishedAt: performance.now() });
  };
}

/**
 * The three vendors as HTTP simulators with `latencyMs` on every answer and their real limits
 * (Kommo 7/s per IP, Moosend per endpoint per 10 s, Loops 10/s). Moosend's throttling answer is sent
 * with HTTP 429 (`rateLimitHttpStatus`): its status is unconfirmed either way, the client treats both
 * alike, and only a real status makes a throttle countable in the request log.
 */
export async function startVendors(options: { latencyMs?: number } = {}): Promise<BenchVendors> {
  const latencyMs = options.latencyMs ?? VENDOR_LATENCY_MS;
  const secret = () => randomBytes(18).toString("hex");
  const secrets = {
    kommoToken: secret(),
    kommoHook: secret(),
    moosendKey: secret(),
    moosendHook: secret(),
    loopsKey: secret(),
    loopsHook: `whsec_${randomBytes(24).toString("base64")}`,
  };
  const log: TimedRequest[] = [];
  const kommo = await startKommoSimulator({ accessToken: secrets.kommoToken, latencyMs, seed: false });
  const moosend = await startMoosendSimulator({ apiKey: secrets.moosendKey, latencyMs, rateLimitHttpStatus: 429 });
  const loops = await startLoopsSimulator({ apiKey: secrets.loopsKey, webhookSecret: secrets.loopsHook, latencyMs });
  timeRequests("kommo", kommo.requests, log);
  timeRequests("moosend", moosend.requests, log);
  timeRequests("loops", loops.requests, log);
  return {
    kommo,
    moosend,
    loops,
    log,
    env: {
      KOMMO_BASE_URL: kommo.url,
      KOMMO_ACCESS_TOKEN: secrets.kommoToken,
      KOMMO_WEBHOOK_SECRET: secrets.kommoHook,
      MOOSEND_BASE_URL: `${moosend.url}/v3`,
      MOOSEND_API_KEY: secrets.moosendKey,
      MOOSEND_WEBHOOK_SECRET: secrets.moosendHook,
      MOOSEND_POLL_SECONDS: "0",
      LOOPS_BASE_URL: `${loops.url}/api/v1`,
      LOOPS_API_KEY: secrets.loopsKey,
      LOOPS_WEBHOOK_SECRET: secrets.loopsHook,
    },
    kommoHookPath: `/webhooks/kommo/${secrets.kommoHook}`,
    close: async () => {
      await Promise.all([kommo.close(), moosend.close(), loops.close()]);
    },
  };
}

/** qs gives arrays, index-keyed objects or a scalar for `filter[id][]`. */
function listOf(value: unknown): unknown[] {
  if (value === undefined || value === null || value === "") return [];
  if (Array.isArray(value)) return value;
  return typeof value === "object" ? Object.values(value) : [value];
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/**
 * Whom a request concerns, as keys `email:<address>`, `lead:<id>`, `contact:<id>`: single reads and
 * writes, Kommo's `filter[id][]` lists, Moosend's subscribe and subscribe_many bodies, Loops' bodies
 * and look-ups. Requests that concern nobody in particular (pipelines, lists) give no key.
 */
export function requestKeys({ vendor, entry }: TimedRequest): string[] {
  const keys: string[] = [];
  const email = (value: unknown) => {
    if (typeof value === "string" && value.includes("@")) keys.push(`email:${normalizeEmail(value)}`);
  };
  const body = record(entry.body);
  if (vendor === "kommo") {
    const single = /^\/api\/v4\/(leads|contacts)\/(\d+)$/.exec(entry.path);
    if (single) keys.push(`${single[1] === "leads" ? "lead" : "contact"}:${single[2]}`);
    const list = /^\/api\/v4\/(leads|contacts)$/.exec(entry.path);
    if (list && entry.method === "GET") {
      for (const id of listOf(record(entry.query.filter).id)) keys.push(`${list[1] === "leads" ? "lead" : "contact"}:${String(id)}`);
    }
    if (list && entry.method === "PATCH" && Array.isArray(entry.body)) {
      for (const item of entry.body) keys.push(`${list[1] === "leads" ? "lead" : "contact"}:${String(record(item).id)}`);
    }
  } else if (vendor === "moosend") {
    email(body.Email);
    for (const item of listOf(body.Subscribers)) email(record(item).Email);
    email(entry.query.Email);
  } else {
    email(body.email);
    email(entry.query.email);
  }
  return keys;
}

/** Whether the simulator answered with success (Kommo's 204 for "nothing there" included). */
export function succeeded(request: TimedRequest): boolean {
  return request.entry.status >= 200 && request.entry.status < 300;
}

/** Throttling answers (429) and Kommo's IP block (403 on everything after too many 429s), per vendor. */
export function throttles(requests: readonly TimedRequest[]): { total429: number; byVendor: Record<VendorName, number>; kommo403: number } {
  const byVendor: Record<VendorName, number> = { kommo: 0, moosend: 0, loops: 0 };
  let kommo403 = 0;
  for (const r of requests) {
    if (r.entry.status === 429) byVendor[r.vendor]++;
    if (r.vendor === "kommo" && r.entry.status === 403) kommo403++;
  }
  return { total429: byVendor.kommo + byVendor.moosend + byVendor.loops, byVendor, kommo403 };
}

/** Requests per vendor, and how they were answered. */
export function callCounts(requests: readonly TimedRequest[]): Record<VendorName, { calls: number; byStatus: Record<string, number>; byRoute: Record<string, number> }> {
  const out = {
    kommo: { calls: 0, byStatus: {}, byRoute: {} },
    moosend: { calls: 0, byStatus: {}, byRoute: {} },
    loops: { calls: 0, byStatus: {}, byRoute: {} },
  } as Record<VendorName, { calls: number; byStatus: Record<string, number>; byRoute: Record<string, number> }>;
  for (const r of requests) {
    const v = out[r.vendor];
    v.calls++;
    v.byStatus[r.entry.status] = (v.byStatus[r.entry.status] ?? 0) + 1;
    const route = `${r.entry.method} ${r.entry.path.replace(/\/\d+(?=\/|$)/g, "/:id").replace(/[0-9a-f]{8}-[0-9a-f-]{27}/gi, ":list")}`;
    v.byRoute[route] = (v.byRoute[route] ?? 0) + 1;
  }
  return out;
}

/** When each Moosend subscribe was answered (seconds from `t0`) and how many people it carried. */
export function moosendTimeline(requests: readonly TimedRequest[], t0: number) {
  return requests
    .filter((r) => r.vendor === "moosend" && r.entry.method === "POST")
    .map((r) => ({
      atSeconds: Math.round(r.finishedAt - t0) / 1000,
      bulk: r.entry.path.endsWith("subscribe_many.json"),
      people: requestKeys(r).length,
      status: r.entry.status,
    }));
}

/** When each Kommo call was answered (seconds from `t0`), what it read and how many ids it carried. */
export function kommoTimeline(requests: readonly TimedRequest[], t0: number) {
  return requests
    .filter((r) => r.vendor === "kommo")
    .map((r) => ({ atSeconds: Math.round(r.finishedAt - t0) / 1000, path: r.entry.path, ids: requestKeys(r).length, status: r.entry.status }));
}
