import axios, { AxiosError, type AxiosInstance, type AxiosResponse, type InternalAxiosRequestConfig } from "axios";
import axiosRetry, { isNetworkError } from "axios-retry";
import { backoffDelayMs } from "@funnelsync/jobs";
import { createVendorError, isRetryableStatus, isVendorError, trimBody, VendorBlockedError, type Vendor } from "./errors";

declare module "axios" {
  interface AxiosRequestConfig {
    /** funnelsync's per-request settings, read by the interceptors below. */
    funnelsync?: {
      /** Safe to send twice (an upsert, or a POST carrying an idempotency key). GET, PUT and DELETE always are. */
      idempotent?: boolean;
      /** Which of the vendor's rate limits this request counts against (a key of `<VENDOR>_LIMITS`). */
      limitKey?: string;
      /** Set by the interceptors: when this attempt left. */
      startedAt?: number;
      /** Set by the interceptors: hands this attempt's rate-limit slot back once its answer is in. */
      release?: GateRelease;
      /** A slot the caller already took from the gate for this request: the first attempt uses it. */
      admitted?: Admission;
    };
  }
}

/**
 * Waits until the vendor's limit for `limitKey` allows one more request (shared by every worker process).
 * It may return a release, called once the attempt's answer (or failure) is in: the vendor counted the
 * request at some moment between its start and its answer, so a gate that keeps the slot until then
 * stays under the limit however late the request really left or arrived.
 */
export type RequestGate = ((vendor: Vendor, limitKey: string) => Promise<void | GateRelease>) & {
  /**
   * The vendor asked us to wait (a 429): every request to it, in every process, waits that long.
   * Called before the rate-limit error is thrown, so no other request slips out meanwhile.
   */
  pause?: (vendor: Vendor, ms: number) => Promise<unknown>;
  /**
   * The vendor answered with its block (see `blockedBy`): no request to it goes out, in any process,
   * except a rare probe, until a probe gets through or an operator lifts it. Resolves to how long the
   * work should wait before it looks again.
   */
  block?: (vendor: Vendor) => Promise<number>;
};
/** How an attempt ended, as far as the gate cares: a probe that got a real answer lifts a block. */
export interface GateOutcome {
  answered: boolean;
  blocked: boolean;
}
export type GateRelease = (outcome?: GateOutcome) => unknown;
/** A rate-limit slot taken ahead of its request (see `admitted`), e.g. so a batch fills while it waits. */
export interface Admission {
  release?: GateRelease;
}

/** Passes a vendor's 429 on to the gate; a gate that cannot be reached must not hide the 429 itself. */
export async function pauseVendor(gate: RequestGate | undefined, vendor: Vendor, ms: number): Promise<void> {
  await gate?.pause?.(vendor, ms).catch(() => undefined);
}

/** How long work waits before it looks again at a block whose gate could not say (or was unreachable). */
const BLOCK_RECHECK_MS = 30_000;

async function blockVendor(gate: RequestGate | undefined, vendor: Vendor): Promise<number> {
  return (await gate?.block?.(vendor).catch(() => undefined)) ?? BLOCK_RECHECK_MS;
}

/** What was sent and what came back, for metrics. Never carries URLs with credentials or bodies. */
export interface VendorCallObservation {
  vendor: Vendor;
  method: string;
  limitKey: string;
  status: number | "error";
  durationMs: number;
}

export interface VendorHttpOptions {
  vendor: Vendor;
  baseURL: string;
  headers?: Record<string, string>;
  /** Query parameters sent on every request (Moosend's `apikey`). */
  params?: Record<string, string>;
  /** Per attempt; the clock restarts for each retry. */
  timeoutMs?: number;
  /** Quick retries inside one job attempt, for transient failures of repeatable requests only. */
  retries?: number;
  /** First retry delay; later ones grow fourfold, with ±50 % jitter. Tests set 0. */
  retryBaseDelayMs?: number;
  /** The limit a request counts against when it names none. */
  defaultLimitKey?: string;
  gate?: RequestGate;
  observe?: (call: VendorCallObservation) => void;
  /** How long the vendor asks us to wait after a 429, when its answer says so in its own way. */
  retryAfterMsFrom?: (response: AxiosResponse) => number | undefined;
  /** When a 429 carries no hint at all. */
  defaultRetryAfterMs?: number;
  /** An answer that means the vendor refuses every call until a human lifts it (Kommo's 403 IP block). */
  blockedBy?: (response: AxiosResponse) => boolean;
}

const SAFE_TO_REPEAT = new Set(["get", "head", "options", "put", "delete"]);
const MAX_RETRY_DELAY_MS = 30_000;

/** The one retry decision for every vendor: transient failure of a request that may be sent again. */
export function shouldRetryInline(error: AxiosError): boolean {
  const config = error.config;
  if (!config) return false;
  const repeatable = SAFE_TO_REPEAT.has((config.method ?? "get").toLowerCase()) || config.funnelsync?.idempotent === true;
  if (!repeatable) return false;
  const status = error.response?.status;
  if (status === 429) return false; // the queue waits as long as the vendor asks; a quick retry would only earn another 429
  const timedOut = error.code === "ECONNABORTED" || error.code === "ETIMEDOUT";
  return isNetworkError(error) || timedOut || (status !== undefined && isRetryableStatus(status));
}

/** A quick retry's wait: `baseMs`, then four times longer each time, ±50 %, at most 30 s. */
export function retryDelayMs(retryNumber: number, baseMs: number, random: () => number = Math.random): number {
  return backoffDelayMs(retryNumber, { firstDelayMs: baseMs, jitter: 0.5, maxDelayMs: MAX_RETRY_DELAY_MS }, random);
}

/** `Retry-After` in seconds or as an HTTP date. */
export function retryAfterHeaderMs(response: AxiosResponse | undefined, now = Date.now()): number | undefined {
  const header = response?.headers?.["retry-after"];
  if (header === undefined || header === null || header === "") return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(String(header));
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function describeRequest(config: InternalAxiosRequestConfig | undefined): string {
  // The path only: query parameters may hold an API key.
  return `${(config?.method ?? "get").toUpperCase()} ${(config?.url ?? "").split("?")[0]}`;
}

function detailOf(body: unknown): string | undefined {
  if (body && typeof body === "object") {
    const record = body as Record<string, unknown>;
    for (const key of ["detail", "message", "Error", "error", "title"]) {
      if (typeof record[key] === "string" && record[key]) return record[key] as string;
    }
  }
  return typeof body === "string" && body.length < 200 ? body : undefined;
}

/**
 * An axios instance for one vendor account: its auth, a shared rate-limit gate before every attempt,
 * quick retries for repeatable requests (axios-retry, with our own condition and delays), and every
 * failure turned into a `VendorError` that says whether retrying helps. It never logs.
 */
export function createVendorHttp(options: VendorHttpOptions): AxiosInstance {
  const { vendor } = options;
  const http = axios.create({
    baseURL: options.baseURL,
    headers: { Accept: "application/json", ...options.headers },
    params: options.params,
    timeout: options.timeoutMs ?? 10_000,
    maxRedirects: 0,
  });

  http.interceptors.request.use(async (config) => {
    const meta = (config.funnelsync ??= {});
    meta.limitKey ??= options.defaultLimitKey ?? "default";
    meta.release = undefined;
    if (meta.admitted) {
      // Admitted ahead: this attempt's slot is already held. A retry waits at the gate as usual.
      meta.release = meta.admitted.release;
      meta.admitted = undefined;
    } else if (options.gate) {
      const release = await options.gate(vendor, meta.limitKey);
      if (typeof release === "function") meta.release = release;
    }
    meta.startedAt = Date.now();
    return config;
  });

  const observe = (config: InternalAxiosRequestConfig | undefined, status: number | "error") => {
    if (!options.observe || !config) return;
    options.observe({
      vendor,
      method: (config.method ?? "get").toUpperCase(),
      limitKey: config.funnelsync?.limitKey ?? "default",
      status,
      durationMs: Date.now() - (config.funnelsync?.startedAt ?? Date.now()),
    });
  };
  /** The attempt is over: its slot goes back to the gate (never awaited: the answer must not wait on Redis). */
  const settle = (config: InternalAxiosRequestConfig | undefined, response: AxiosResponse | undefined) => {
    const release = config?.funnelsync?.release;
    if (release) {
      config.funnelsync!.release = undefined;
      const outcome: GateOutcome = { answered: response !== undefined, blocked: response !== undefined && isBlock(response) };
      Promise.resolve()
        .then(() => release(outcome))
        .catch(() => undefined);
    }
    observe(config, response?.status ?? "error");
  };
  const isBlock = (response: AxiosResponse) => options.blockedBy?.(response) ?? false;
  http.interceptors.response.use(
    (response) => {
      settle(response.config, response);
      return response;
    },
    (error: unknown) => {
      if (error instanceof AxiosError) settle(error.config, error.response);
      return Promise.reject(error);
    },
  );

  const retryBaseDelayMs = options.retryBaseDelayMs ?? 500;
  axiosRetry(http, {
    retries: options.retries ?? 2,
    shouldResetTimeout: true,
    retryCondition: shouldRetryInline,
    retryDelay: (retryNumber) => retryDelayMs(retryNumber, retryBaseDelayMs),
  });

  http.interceptors.response.use(undefined, async (error: unknown) => {
    if (isVendorError(error) || !(error instanceof AxiosError)) return Promise.reject(error);
    const response = error.response;
    const status = response?.status;
    if (response && isBlock(response)) {
      throw new VendorBlockedError(vendor, await blockVendor(options.gate, vendor), status, trimBody(response.data));
    }
    const retryAfterMs =
      status === 429
        ? (options.retryAfterMsFrom?.(response!) ?? retryAfterHeaderMs(response) ?? options.defaultRetryAfterMs ?? 1_000)
        : undefined;
    if (retryAfterMs !== undefined) await pauseVendor(options.gate, vendor, retryAfterMs);
    return Promise.reject(
      createVendorError({
        vendor,
        status,
        what: describeRequest(error.config),
        detail: response ? detailOf(response.data) : error.code,
        body: response?.data,
        retryAfterMs,
      }),
    );
  });

  return http;
}
