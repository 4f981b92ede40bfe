import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { apiIdOf, VendorRateLimitError, type RateLimit, type RequestGate, type Vendor, type VendorLimits } from "@funnelsync/vendor-http";

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
 * While the vendor has asked us to wait (KEYS[2], set on its 429), nobody takes a slot.
 *
 * Returns 0 when a slot was taken, else the milliseconds until one can free up: the pause's end, or
 * when the oldest finished request leaves the window (one still in flight leaves it no sooner than one
 * window from now).
 */
const TAKE_SLOT = `
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return paused end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local inFlight = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < max then
  redis.call('ZADD', KEYS[1], now + inFlight, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], inFlight + window)
  return 0
end
local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
return math.max(1, math.min(oldest, now) + window - now)
`;

/** The request's answer is in: its slot now leaves the window one window from now. */
const RELEASE_SLOT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
return 0
`;

/** The vendor said "wait this long": a pause only ever grows, a shorter one never cuts it short. */
const PAUSE = `
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return 0
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
}

/**
 * The default margin: 0.2 % of the window plus 25 ms. Small, because the window already runs from the
 * answer, which no arrival can follow, so every request the vendor counts is at least a round trip
 * further from the last than the window; the margin covers the vendor's clock and rounding. Local
 * estimates of a window use it too.
 */
export const defaultMargin = (limit: RateLimit) => Math.round(limit.perMs * 0.002) + 25;

export type RedisGate = RequestGate & { pause(vendor: Vendor, ms: number): Promise<unknown> };

export function createRedisGate(options: RedisGateOptions): RedisGate {
  const maxWaitMs = options.maxWaitMs ?? 5_000;
  const inFlightMs = options.inFlightMs ?? 15_000;
  const margin = options.marginMs ?? defaultMargin;
  const accountIds = new Map(Object.entries(options.accounts).map(([vendor, baseUrl]) => [vendor, apiIdOf(baseUrl ?? "")]));
  const keyFor = (vendor: Vendor, limitKey: string) => `${options.prefix}:ratelimit:${vendor}:${accountIds.get(vendor) ?? apiIdOf("")}:${limitKey}`;
  const pausedKey = (vendor: Vendor) => keyFor(vendor, "paused");
  const gate: RequestGate = async (vendor, limitKey) => {
    const limit = options.limits[vendor][limitKey] ?? options.limits[vendor].default;
    if (!limit) throw new Error(`no rate limit defined for ${vendor} ${limitKey}`);
    const windowMs = limit.perMs + margin(limit);
    const started = Date.now();
    const key = keyFor(vendor, limit.window ?? limitKey);
    const slot = randomUUID();
    for (;;) {
      const waitMs = Number(await options.redis.eval(TAKE_SLOT, 2, key, pausedKey(vendor), windowMs, limit.max, slot, inFlightMs));
      if (waitMs === 0) return () => options.redis.eval(RELEASE_SLOT, 1, key, slot);
      if (Date.now() - started + waitMs > maxWaitMs) throw new VendorRateLimitError(vendor, waitMs);
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  };
  return Object.assign(gate, {
    pause: (vendor: Vendor, ms: number) => options.redis.eval(PAUSE, 1, pausedKey(vendor), Math.max(1, Math.ceil(ms))),
  });
}
