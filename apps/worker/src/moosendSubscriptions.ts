import { MOOSEND_LIMITS, MOOSEND_MAX_BATCH, type MoosendClient, type MoosendSubscriber, type MoosendSubscriberInput } from "@funnelsync/moosend-client";
import { createVendorError, type RateLimit } from "@funnelsync/vendor-http";
import { defaultMargin } from "./redisGate";

interface Pending {
  input: MoosendSubscriberInput;
  waiters: Array<{ resolve: (s: MoosendSubscriber) => void; reject: (e: unknown) => void }>;
}

/**
 * What this process has spent of one Moosend window; the shared Redis gate stays the authority.
 * `spaced` calls are also kept an even share of the window apart (2 per 10 s: one per 5 s), so a
 * backlog never waits a whole window because both calls went out back to back.
 */
class LocalWindow {
  private sent: number[] = [];
  constructor(private readonly limit: RateLimit, private readonly now: () => number, private readonly spaced = false) {}
  /** Milliseconds until a call fits (0: now). A little margin, like the gate's. `unspaced` skips the spacing. */
  waitMs(unspaced = false): number {
    const windowMs = this.limit.perMs + defaultMargin(this.limit);
    const t = this.now();
    this.sent = this.sent.filter((at) => at > t - windowMs);
    const full = this.sent.length < this.limit.max ? 0 : this.sent[0]! + windowMs - t;
    const last = this.sent[this.sent.length - 1];
    const spacing = this.spaced && !unspaced && last !== undefined ? Math.max(0, last + windowMs / this.limit.max - t) : 0;
    return Math.max(full, spacing);
  }
  /** Nothing sent within the window: a burst may be starting. */
  idle(): boolean {
    return this.waitMs() === 0 && this.sent.length === 0;
  }
  spend(): void {
    this.sent.push(this.now());
  }

}

/**
 * The first bulk call after a quiet spell waits while subscribers still pour in (a burst starting),
 * until a full call's worth is there or none arrived for `LINGER_QUIET_MS`, at most `LINGER_MAX_MS`:
 * a half-empty first call would spend a whole call of the burst's budget.
 * Later bulk calls need no lingering: their spacing lets the backlog gather.
 */
const LINGER_QUIET_MS = 500;
const LINGER_MAX_MS = 3_000;

/**
 * Subscribes to Moosend lists, one scheduler per list, choosing the endpoint by what Moosend's limits
 * leave: `subscribe` allows 10 calls per 10 s, `subscribe_many` 2 calls (of up to 1,000) per 10 s. A
 * lone subscriber goes out at once as `subscribe` (or as a `subscribe_many` of one when singles are
 * spent); when several wait, they go out together as one `subscribe_many`, which takes whoever arrived
 * while it waited for its window. Bulk calls are spaced through the window, except when a full call's
 * worth is waiting (a burst): then it goes as soon as the window allows. Two jobs for one address
 * collapse to the latest fields. Every subscriber carries every mapped field, since Moosend clears
 * omitted ones.
 */
export class MoosendSubscriptions {
  private readonly lists = new Map<string, Map<string, Pending>>();
  private readonly running = new Set<string>();
  /** Wakes a list's drain loop from its wait, when a full bulk call's worth has gathered. */
  private readonly wakers = new Map<string, () => void>();
  private readonly single: LocalWindow;
  private readonly bulk: LocalWindow;

  constructor(private readonly moosend: MoosendClient, private readonly now: () => number = Date.now) {
    this.single = new LocalWindow(MOOSEND_LIMITS.subscribe, now);
    this.bulk = new LocalWindow(MOOSEND_LIMITS.subscribeMany, now, true);
  }

  subscribe(listId: string, subscriber: MoosendSubscriberInput): Promise<MoosendSubscriber> {
    const email = subscriber.email.trim().toLowerCase();
    return new Promise((resolve, reject) => {
      let pending = this.lists.get(listId);
      if (!pending) this.lists.set(listId, (pending = new Map()));
      const entry = pending.get(email);
      if (entry) {
        entry.input = { ...subscriber, email };
        entry.waiters.push({ resolve, reject });
      } else {
        pending.set(email, { input: { ...subscriber, email }, waiters: [{ resolve, reject }] });
      }
      if (!this.running.has(listId)) void this.drain(listId);
      else if (pending.size >= MOOSEND_MAX_BATCH) this.wakers.get(listId)?.();
    });
  }

  private async drain(listId: string): Promise<void> {
    this.running.add(listId);
    const pending = this.lists.get(listId)!;
    try {
      while (pending.size > 0) {
        const singleWait = this.single.waitMs();
        const bulkWait = this.bulk.waitMs(pending.size >= MOOSEND_MAX_BATCH);
        const lone = pending.size === 1;
        if (lone && singleWait === 0) {
          await this.send(listId, this.take(pending, 1), "single");
        } else if (bulkWait === 0) {
          if (this.bulk.idle()) await this.linger(listId, pending);
          await this.send(listId, this.take(pending, MOOSEND_MAX_BATCH), "bulk");
        } else {
          // Several waiting go together in the next bulk call; a lone one takes whichever frees first.
          await this.wait(listId, lone ? Math.min(singleWait, bulkWait) : bulkWait);
        }
      }
    } finally {
      this.running.delete(listId);
    }
  }

  private wait(listId: string, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(wake, ms);
      function wake() {
        clearTimeout(timer);
        resolve();
      }
      this.wakers.set(listId, wake);
    }).finally(() => this.wakers.delete(listId));
  }

  private async linger(listId: string, pending: Map<string, Pending>): Promise<void> {
    const started = this.now();
    let size = pending.size;
    while (size < MOOSEND_MAX_BATCH && this.now() - started < LINGER_MAX_MS) {
      await this.wait(listId, LINGER_QUIET_MS);
      if (pending.size === size) return;
      size = pending.size;
    }
  }

  private take(pending: Map<string, Pending>, count: number): Pending[] {
    const taken: Pending[] = [];
    for (const [email, entry] of pending) {
      if (taken.length === count) break;
      pending.delete(email);
      taken.push(entry);
    }
    return taken;
  }

  private async send(listId: string, batch: Pending[], kind: "single" | "bulk"): Promise<void> {
    (kind === "single" ? this.single : this.bulk).spend();
    try {
      const found = new Map<string, MoosendSubscriber>();
      if (kind === "single") {
        const one = await this.moosend.subscribe(listId, batch[0]!.input);
        found.set(batch[0]!.input.email, one);
      } else {
        const { subscribers } = await this.moosend.subscribeMany(listId, batch.map((p) => p.input));
        for (const s of subscribers) found.set(s.email.toLowerCase(), s);
      }
      for (const entry of batch) {
        const subscriber = found.get(entry.input.email);
        if (subscriber) for (const waiter of entry.waiters) waiter.resolve(subscriber);
        else {
          const ignored = createVendorError({ vendor: "moosend", status: 200, what: `subscribe_many to ${listId}`, detail: `${entry.input.email} was ignored as invalid`, retryable: false });
          for (const waiter of entry.waiters) waiter.reject(ignored);
        }
      }
    } catch (error) {
      for (const entry of batch) for (const waiter of entry.waiters) waiter.reject(error);
    }
  }
}
