import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import {
  apiIdOf,
  VendorBlockedError,
  VendorRateLimitError,
  type GateOutcome,
  type RateLimit,
  type RequestGate,
  type Vendor,
  type VendorLimits,
} from "@funnelsync/vendor-http";

/**
 * A sliding-window log in Redis, so every worker process shares one budget per vendor account:
 * more workers never mean more requests per second. Redis' own clock decides, not each host's.
 *
 * The vendor counts a request when it arrives, somewhere between the moment we took its slot and the
 * moment its answer came back (a busy event loop, the network or the vendor's own queue can push it
 * anywhere in between). So a slot is held for as long as its request is in flight (scored in the
 * future, bounded by `inFlightMs` in case its process dies), and the window runs from the answer.
 * Then no window of the vendor's can ever see more than `max` arrivals, however requests bunch up.
 *
 * While the vendor has asked us to wait (KEYS[2], set on its 429), nobody takes a slot. While it
 * blocks us (KEYS[3], set on its block answer), only a probe does, once the probe timer (KEYS[4]) has
 * run out: it re-arms the timer, and its answer either lifts the block or leaves it.
 *
 * Returns {0, probe} when a slot was taken (probe 1 if this request is the block's probe), {1, ms}
 * when a slot can free up in ms (the pause's end, or when the oldest finished request leaves the
 * window; one still in flight leaves it no sooner than one window from now), {2, ms} while blocked,
 * with the time until the next probe may go.
 */
const TAKE_SLOT = `
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return {1, paused} end
local probe = 0
if redis.call('EXISTS', KEYS[3]) == 1 then
  local untilProbe = redis.call('PTTL', KEYS[4])
  if untilProbe > 0 then return {2, untilProbe} end
  probe = 1
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local inFlight = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < max then
  redis.call('ZADD', KEYS[1], now + inFlight, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], inFlight + window)
  if probe == 1 then redis.call('SET', KEYS[4], '1', 'PX', ARGV[5]) end
  return {0, probe}
end
local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
return {1, math.max(1, math.min(oldest, now) + window - now)}
`;

/**
 * When a slot could be taken, without taking one: {ms until one frees (the pause's or block's end
 * first), ms until a call spaced evenly through the window after the newest one may go, slots free now}.
 */
const PEEK = `
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return {paused, paused, 0} end
if redis.call('EXISTS', KEYS[3]) == 1 then
  local untilProbe = math.max(1, redis.call('PTTL', KEYS[4]))
  return {untilProbe, untilProbe, 0}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
local wait = 0
if used >= max then
  local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  wait = math.max(1, math.min(oldest, now) + window - now)
end
local spacing = 0
if used > 0 then
  local newest = tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2])
  spacing = math.max(0, math.floor(math.min(newest, now) + window / max - now))
end
return {wait, math.max(wait, spacing), max - used}
`;

/** The request's answer is in: its slot now leaves the window one window from now. */
const RELEASE_SLOT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
return 0
`;

/**
 * The vendor said "wait this long": a pause only ever grows, a shorter one never cuts it short. Returns
 * 1 when the wait is news (it grew by more than a second), so two 429s in flight together make one report.
 */
const PAUSE = `
local left = redis.call('PTTL', KEYS[1])
local wanted = tonumber(ARGV[1])
if left >= wanted then return 0 end
redis.call('SET', KEYS[1], '1', 'PX', wanted)
if left < wanted - 1000 then return 1 end
return 0
`;

/** The vendor blocks us: no probe before the probe interval is over. Returns 1 if it was not blocked before. */
const BLOCK = `
local fresh = redis.call('SET', KEYS[1], ARGV[2], 'NX')
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
if fresh then return 1 end
return 0
`;

/** What a vendor's state is now: the pause left (ms, 0 if none), and since when it blocks us (ms, 0 if not). */
const STATE = `
local paused = redis.call('PTTL', KEYS[1])
if paused < 0 then paused = 0 end
local since = tonumber(redis.call('GET', KEYS[2]) or '0')
return {paused, since}
`;

export interface RedisGateOptions {
  redis: Redis;
  /** Namespaces the windows, like the BullMQ prefix. */
  prefix: string;
  limits: Record<Vendor, VendorLimits>;
  /** Distinguishes vendor accounts (base URL), so two accounts never share a window. */
  accounts: Partial<Record<Vendor, string>>;
  /**
   * A slightly longer window than the vendor's, so that its clock, its rounding and Redis' clock
   * differing a little cannot push a burst over the line.
   */
  marginMs?: (limit: RateLimit) => number;
  /** A wait longer than this goes back to the queue instead of holding a worker slot. */
  maxWaitMs?: number;
  /** Longest a slot stays held for a request whose answer never comes back (its process died): above any request timeout. */
  inFlightMs?: number;
  /** While a vendor blocks us, at most one probe call per this long (default 5 min). */
  probeEveryMs?: number;
  /** While a vendor blocks us, how often waiting work looks again (default 30 s): an operator's `resume` shows within this. */
  blockedRecheckMs?: number;
  /** A pause grew, a block began or was lifted, in any process: for the one log line each deserves. */
  onChange?: (change: VendorStateChange) => void;
}

export type VendorStateChange =
  | { kind: "paused"; vendor: Vendor; waitMs: number }
  | { kind: "blocked"; vendor: Vendor; probeEveryMs: number }
  | { kind: "unblocked"; vendor: Vendor; by: "probe" | "operator" };

export interface VendorState {
  /** How long the vendor's 429 still asks us to wait; 0 if it does not. */
  pausedMs: number;
  /** When the vendor's block began (ms since the epoch), if it blocks us. */
  blockedSince?: number;
}

/**
 * The default margin: 0.2 % of the window plus 25 ms. Small, because the window already runs from the
 * answer, which no arrival can follow, so every request the vendor counts is at least a round trip
 * further from the last than the window; the margin covers the vendor's clock and rounding. Local
 * estimates of a window use it too.
 */
export const defaultMargin = (limit: RateLimit) => Math.round(limit.perMs * 0.002) + 25;

/** A vendor limit's window as it stands, shared by every process. */
export interface WindowState {
  /** Until a slot frees (0: one is free now). */
  waitMs: number;
  /** Until a call kept an even share of the window after the newest one may go (never less than `waitMs`). */
  spacedWaitMs: number;
  /** Slots free now. */
  free: number;
}

export type RedisGate = RequestGate & {
  /** The window of `limitKey`, looked at without taking a slot. */
  window(vendor: Vendor, limitKey: string): Promise<WindowState>;
  pause(vendor: Vendor, ms: number): Promise<unknown>;
  block(vendor: Vendor): Promise<number>;
  /** Lifts a block (an operator's `resume`, or a probe that got through); resolves to whether there was one. */
  unblock(vendor: Vendor, by: "probe" | "operator"): Promise<boolean>;
  state(vendor: Vendor): Promise<VendorState>;
};

export const DEFAULT_PROBE_EVERY_MS = 5 * 60_000;
export const DEFAULT_BLOCKED_RECHECK_MS = 30_000;

export function createRedisGate(options: RedisGateOptions): RedisGate {
  const maxWaitMs = options.maxWaitMs ?? 5_000;
  const inFlightMs = options.inFlightMs ?? 15_000;
  const margin = options.marginMs ?? defaultMargin;
  const accountIds = new Map(Object.entries(options.accounts).map(([vendor, baseUrl]) => [vendor, apiIdOf(baseUrl ?? "")]));
  const keyFor = (vendor: Vendor, limitKey: string) => `${options.prefix}:ratelimit:${vendor}:${accountIds.get(vendor) ?? apiIdOf("")}:${limitKey}`;
  const pausedKey = (vendor: Vendor) => keyFor(vendor, "paused");
  const blockedKey = (vendor: Vendor) => keyFor(vendor, "blocked");
  const probeKey = (vendor: Vendor) => keyFor(vendor, "probe");
  const probeEveryMs = options.probeEveryMs ?? DEFAULT_PROBE_EVERY_MS;
  const blockedRecheckMs = options.blockedRecheckMs ?? DEFAULT_BLOCKED_RECHECK_MS;
  const unblock = async (vendor: Vendor, by: "probe" | "operator") => {
    const lifted = Number(await options.redis.del(blockedKey(vendor), probeKey(vendor))) > 0;
    if (lifted) options.onChange?.({ kind: "unblocked", vendor, by });
    return lifted;
  };
  const gate: RequestGate = async (vendor, limitKey) => {
    const limit = options.limits[vendor][limitKey] ?? options.limits[vendor].default;
    if (!limit) throw new Error(`no rate limit defined for ${vendor} ${limitKey}`);
    const windowMs = limit.perMs + margin(limit);
    const started = Date.now();
    const key = keyFor(vendor, limit.window ?? limitKey);
    const slot = randomUUID();
    for (;;) {
      const keys = [key, pausedKey(vendor), blockedKey(vendor), probeKey(vendor)];
      const [code, value] = (await options.redis.eval(TAKE_SLOT, 4, ...keys, windowMs, limit.max, slot, inFlightMs, probeEveryMs)) as [number, number];
      if (code === 0) {
        const probe = value === 1;
        return async (outcome?: GateOutcome) => {
          await options.redis.eval(RELEASE_SLOT, 1, key, slot);
          if (probe && outcome?.answered && !outcome.blocked) await unblock(vendor, "probe");
        };
      }
      if (code === 2) throw new VendorBlockedError(vendor, Math.min(value, blockedRecheckMs));
      if (Date.now() - started + value > maxWaitMs) throw new VendorRateLimitError(vendor, value);
      await new Promise((resolve) => setTimeout(resolve, value));
    }
  };
  return Object.assign(gate, {
    async window(vendor: Vendor, limitKey: string): Promise<WindowState> {
      const limit = options.limits[vendor][limitKey] ?? options.limits[vendor].default;
      if (!limit) throw new Error(`no rate limit defined for ${vendor} ${limitKey}`);
      const keys = [keyFor(vendor, limit.window ?? limitKey), pausedKey(vendor), blockedKey(vendor), probeKey(vendor)];
      const [waitMs, spacedWaitMs, free] = (await options.redis.eval(PEEK, 4, ...keys, limit.perMs + margin(limit), limit.max)) as [number, number, number];
      return { waitMs, spacedWaitMs, free: Math.max(0, free) };
    },
    async pause(vendor: Vendor, ms: number) {
      const waitMs = Math.max(1, Math.ceil(ms));
      if (Number(await options.redis.eval(PAUSE, 1, pausedKey(vendor), waitMs)) === 1) options.onChange?.({ kind: "paused", vendor, waitMs });
    },
    async block(vendor: Vendor) {
      if (Number(await options.redis.eval(BLOCK, 2, blockedKey(vendor), probeKey(vendor), probeEveryMs, Date.now())) === 1) {
        options.onChange?.({ kind: "blocked", vendor, probeEveryMs });
      }
      return blockedRecheckMs;
    },
    unblock,
    async state(vendor: Vendor): Promise<VendorState> {
      const [pausedMs, blockedSince] = (await options.redis.eval(STATE, 2, pausedKey(vendor), blockedKey(vendor))) as [number, number];
      return { pausedMs, ...(blockedSince > 0 && { blockedSince }) };
    },
  });
}

/**
 * A gate for calls that must leave room for live sync: each takes a slot of its own smaller window
 * (`shareKey`, e.g. 3 of Kommo's 7 a second) before the vendor's shared one, so live sync always
 * keeps the rest of the vendor's budget, in every process. With `sharedKey` (Kommo's `background`)
 * the shared slot is taken only while that limit leaves room, so a live call never queues behind them.
 */
export function shareOfGate(gate: RequestGate, shareKey: string, sharedKey?: string): RequestGate {
  const shared: RequestGate = async (vendor, limitKey) => {
    const share = await gate(vendor, shareKey);
    try {
      const slot = await gate(vendor, sharedKey ?? limitKey);
      return () => {
        share?.();
        slot?.();
      };
    } catch (error) {
      share?.();
      throw error;
    }
  };
  // Everything else the gate carries (its `pause` on a 429, …) stays the shared gate's own.
  return Object.assign(shared, gate);
}
