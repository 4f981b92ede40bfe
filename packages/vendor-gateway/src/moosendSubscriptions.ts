import { normalizeEmail } from "@funnelsync/config";
import { MOOSEND_LIMITS, MOOSEND_MAX_BATCH, type MoosendClient, type MoosendSubscriber, type MoosendSubscriberInput } from "@funnelsync/moosend-client";
import { createVendorError } from "@funnelsync/vendor-http";
import { answered, VendorAnswer } from "./vendorAnswer";
import { systemClock, type Clock } from "./clock";
import { StepSkipped } from "./stepSkipped";
import { TUNING } from "./tuning";
import type { PooledEntry, SubscriberPool } from "./subscriberPool";
import type { WindowState } from "./redisGate";

/**
 * Which of these addresses opted out (per the consent ledger), with why. Asked again right before
 * each call: a subscriber can wait here for many seconds under a burst, and Moosend's subscribe
 * would re-subscribe someone whose opt-out arrived meanwhile.
 */
export type OptOuts = (emails: string[]) => Promise<Map<string, string>>;

/**
 * People Moosend may hold as unsubscribed or bounced on a list, although they may be subscribed now:
 * `subscribe_many` leaves such members as they are while answering success.
 */
export interface Reactivations {
  /** Which of these addresses opted back in since Moosend last showed them subscribed on the list. */
  needed(listId: string, emails: string[]): Promise<Set<string>>;
  /** `view.json` shows the address subscribed on the list again. */
  confirmed(listId: string, subscriber: MoosendSubscriber): Promise<void>;
}

const NO_REACTIVATIONS: Reactivations = { needed: async () => new Set(), confirmed: async () => undefined };

/** Moosend's window for `subscribe` or `subscribe_many` as every process shares it (the Redis gate's). */
export type MoosendWindow = (limitKey: "subscribe" | "subscribeMany") => Promise<WindowState>;


/**
 * Subscribers that may still reach this scheduler within `horizonMs`, beyond the `waitingHere` already
 * in it: jobs queued or running that have not reached a scheduler yet, and those expected to arrive
 * meanwhile (a burst still being delivered). `BurstSignal.subscribersComing` in the worker.
 */
export type UpstreamCount = (horizonMs: number, waitingHere: number) => Promise<number>;

const { fillMaxMs: FILL_MAX_MS, fillPollMs: FILL_POLL_MS, leadMs: LEAD_MS, followPollMs: FOLLOW_POLL_MS, singlesForAFew: SINGLES_FOR_A_FEW } = TUNING.moosendSubscriptions;

export interface MoosendSubscriptionsOptions {
  moosend: MoosendClient;
  /** Where subscribers wait, shared by every worker process. */
  pool: SubscriberPool;
  /** Moosend's windows, which the client's calls take their slots from. */
  window: MoosendWindow;
  upstream?: UpstreamCount;
  optOuts?: OptOuts;
  reactivations?: Reactivations;
  clock?: Clock;
}

/**
 * Subscribes to Moosend lists, choosing the endpoint by what Moosend's limits leave: `subscribe`
 * allows 10 calls per 10 s, `subscribe_many` 2 calls (of up to 1,000) per 10 s. Subscribers wait in a
 * pool shared by every worker process (`SubscriberPool`), and one process at a time drains a list. A
 * lone subscriber goes out at once as `subscribe` (or as a `subscribe_many` of one when singles are
 * spent); when several wait, they go out together as one `subscribe_many`, which takes whoever arrived
 * while it waited for its window. Bulk calls are spaced through the window, except when a full call's
 * worth is waiting (a burst), or half a call's worth with nothing more coming (a burst's tail): then
 * it goes as soon as the window allows. Two jobs for one address collapse to the latest fields. Every
 * subscriber carries every mapped field, since Moosend clears omitted ones. Someone who opted back in
 * never rides in a bulk call: only the single `subscribe` re-activates a member Moosend holds as
 * unsubscribed, and `view.json` confirms it before the step counts as done.
 */
export class MoosendSubscriptions {
  /** Lists whose callers in this process wait: their loop follows or drains the list. */
  private readonly running = new Set<string>();
  /** Wakes a list's drain loop from its wait, when a full bulk call's worth has gathered. */
  private readonly wakers = new Map<string, () => void>();
  private readonly window: MoosendWindow;
  private readonly moosend: MoosendClient;
  private readonly pool: SubscriberPool;
  private readonly upstream: UpstreamCount;
  private readonly optOuts: OptOuts;
  private readonly reactivations: Reactivations;
  private readonly clock: Clock;
  private closed = false;
  /** Callers per list in this process still waiting for their answer. */
  private readonly waitingOn = new Map<string, number>();

  constructor(options: MoosendSubscriptionsOptions) {
    this.moosend = options.moosend;
    this.pool = options.pool;
    this.upstream = options.upstream ?? (async () => 0);
    this.optOuts = options.optOuts ?? (async () => new Map());
    this.reactivations = options.reactivations ?? NO_REACTIVATIONS;
    this.clock = options.clock ?? systemClock;
    this.window = options.window;
  }

  /** Callers in this process waiting for an answer: in the pool or in a call in flight. */
  get waiting(): number {
    return this.pool.waiting;
  }

  /**
   * The subscriber Moosend answered with (and the status of the call that carried them), or
   * `StepSkipped` if the address opted out while waiting.
   */
  async subscribe(listId: string, subscriber: MoosendSubscriberInput): Promise<VendorAnswer<MoosendSubscriber> | StepSkipped> {
    const email = normalizeEmail(subscriber.email);
    this.waitingOn.set(listId, (this.waitingOn.get(listId) ?? 0) + 1);
    try {
      return await new Promise<VendorAnswer<MoosendSubscriber> | StepSkipped>((resolve, reject) => {
        const waiter = {
          resolve: (value: MoosendSubscriber | StepSkipped, status?: number) => resolve(value instanceof StepSkipped ? value : new VendorAnswer(value, status)),
          reject,
        };
        this.pool.add(listId, { ...subscriber, email }, waiter).then((size) => {
          if (!this.running.has(listId)) void this.drain(listId);
          else if (size >= MOOSEND_MAX_BATCH) this.wakers.get(listId)?.();
        }, reject);
      });
    } finally {
      this.waitingOn.set(listId, this.waitingOn.get(listId)! - 1);
    }
  }

  /** Subscribers that may still reach the pool within `horizonMs`, beyond those already waiting. */
  private async comingUp(horizonMs = 0): Promise<number> {
    return Math.max(0, await this.upstream(horizonMs, this.waiting).catch(() => 0));
  }

  /**
   * While callers of this process wait on the list: drains it if no other process does (one at a time,
   * so a bulk call carries every process's people), else looks again shortly.
   */
  private async drain(listId: string): Promise<void> {
    this.running.add(listId);
    let leading = false;
    try {
      while (!this.closed && (this.waitingOn.get(listId) ?? 0) > 0) {
        try {
          leading = await this.pool.lead(listId, LEAD_MS);
          if (!leading) {
            // Reading what is coming also reports this process's waiting callers, which the leader's
            // reading counts as already here: without it a follower's callers looked like more to come.
            await this.comingUp();
            await this.wait(listId, FOLLOW_POLL_MS);
          } else if ((await this.lead(listId)) === "empty") {
            break; // our callers' answers are on their way; the next caller drains again
          }
        } catch {
          await this.wait(listId, FOLLOW_POLL_MS); // Redis away: the callers' jobs wait, or lose their locks and run again
        }
      }
    } finally {
      this.running.delete(listId);
      if (leading) await this.pool.resign(listId).catch(() => undefined);
    }
    // A caller added while the loop was leaving saw it running and started none.
    if (!this.closed && (this.waitingOn.get(listId) ?? 0) > 0 && (await this.pool.size(listId).catch(() => 0)) > 0 && !this.running.has(listId)) void this.drain(listId);
  }

  /** One decision of the list's drain: a call, or a wait for one. */
  private async lead(listId: string): Promise<"empty" | "again"> {
    const size = await this.pool.size(listId);
    if (size === 0) return "empty";
    const [single, bulk] = await Promise.all([this.window("subscribe"), this.window("subscribeMany")]);
    const singleWait = single.waitMs;
    const full = size >= MOOSEND_MAX_BATCH;
    const tail = !full && size >= MOOSEND_MAX_BATCH / 2 && (await this.comingUp()) === 0;
    // Bulk calls are spaced through the window (2 per 10 s: one per 5 s), so a backlog never waits a
    // whole window because both went out back to back; not when a burst fills them.
    const bulkWait = full || tail ? bulk.waitMs : bulk.spacedWaitMs;
    const lone = size === 1;
    // A lone one, or a few, go one by one while singles are free (free singles mean no wait): a bulk
    // call is the scarcer (2 per 10 s against 10), and one spent on a handful at a burst's start
    // leaves its window half used.
    const few = size <= Math.min(SINGLES_FOR_A_FEW, single.free);
    if (few) {
      await this.send(listId, await this.pool.take(listId, 1), "single");
    } else if (bulkWait === 0) {
      await this.fill(listId, size);
      await this.send(listId, await this.pool.take(listId, MOOSEND_MAX_BATCH), "bulk");
    } else {
      // Several waiting go together in the next bulk call; a lone one takes whichever frees first.
      // With half a call's worth or more, look again soon: a burst's tail goes without spacing.
      const ms = lone ? Math.min(singleWait, bulkWait) : bulkWait;
      await this.wait(listId, size >= MOOSEND_MAX_BATCH / 2 ? Math.min(ms, FILL_POLL_MS) : Math.min(ms, LEAD_MS / 2));
    }
    return "again";
  }

  /** Stops draining (the worker is closing: its jobs are done or handed back). */
  close(): void {
    this.closed = true;
    for (const wake of this.wakers.values()) wake();
  }

  private wait(listId: string, ms: number): Promise<void> {
    const waking = new AbortController();
    this.wakers.set(listId, () => waking.abort());
    return this.clock.sleep(ms, waking.signal).finally(() => this.wakers.delete(listId));
  }

  private async fill(listId: string, size: number): Promise<void> {
    const started = this.clock.now();
    for (let left = FILL_MAX_MS; size < MOOSEND_MAX_BATCH && left > 0; left = FILL_MAX_MS - (this.clock.now() - started)) {
      if (size + (await this.comingUp(left)) < MOOSEND_MAX_BATCH) return;
      await this.wait(listId, FILL_POLL_MS);
      size = await this.pool.size(listId);
      await this.pool.lead(listId, LEAD_MS);
    }
  }

  private async send(listId: string, taken: PooledEntry[], kind: "single" | "bulk"): Promise<void> {
    let batch = taken;
    try {
      const emails = taken.map((p) => p.email);
      const [optedOut, backIn] = await Promise.all([this.optOuts(emails), this.reactivations.needed(listId, emails)]);
      batch = [];
      for (const entry of taken) {
        const reason = optedOut.get(entry.email);
        if (reason !== undefined) void this.pool.answer(entry, { skipped: reason });
        else if (backIn.has(entry.email)) void this.resubscribe(listId, entry);
        else batch.push(entry);
      }
      if (batch.length === 0) return;
      const found = new Map<string, MoosendSubscriber>();
      let status: number | undefined;
      if (kind === "single") {
        const one = await answered(() => this.moosend.subscribe(listId, batch[0]!.input));
        found.set(batch[0]!.email, one.value);
        status = one.vendorStatus;
      } else {
        const many = await answered(() => this.moosend.subscribeMany(listId, batch.map((p) => p.input)));
        for (const s of many.value.subscribers) found.set(normalizeEmail(s.email), s);
        status = many.vendorStatus;
      }
      await Promise.all(
        batch.map((entry) => {
          const subscriber = found.get(entry.email);
          if (subscriber) return this.pool.answer(entry, { subscriber, status });
          const ignored = createVendorError({ vendor: "moosend", status: 200, what: `subscribe_many to ${listId}`, detail: `${entry.email} was ignored as invalid`, retryable: false });
          return this.pool.answer(entry, { error: ignored });
        }),
      );
    } catch (error) {
      await Promise.all(batch.map((entry) => this.pool.answer(entry, { error }).catch(() => undefined)));
    }
  }

  /**
   * Re-activates someone who opted back in: the single `subscribe` (in the single calls' window), then
   * `view.json`, since a member left unsubscribed must not count as subscribed.
   */
  private async resubscribe(listId: string, entry: PooledEntry): Promise<void> {
    try {
      for (let ms = (await this.window("subscribe")).waitMs; ms > 0; ms = (await this.window("subscribe")).waitMs) await this.clock.sleep(ms);
      const { value: member, vendorStatus: status } = await answered(async () => {
        await this.moosend.subscribe(listId, entry.input);
        return this.moosend.findByEmail(listId, entry.input.email);
      });
      if (member?.status !== "subscribed") {
        throw createVendorError({
          vendor: "moosend",
          status: 200,
          what: `subscribe to ${listId}`,
          detail: `${entry.input.email} is ${member?.status ?? "not on the list"} after subscribe (view.json)`,
          retryable: true,
        });
      }
      await this.reactivations.confirmed(listId, member);
      await this.pool.answer(entry, { subscriber: member, status });
    } catch (error) {
      await this.pool.answer(entry, { error }).catch(() => undefined);
    }
  }
}
