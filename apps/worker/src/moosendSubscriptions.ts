import { normalizeEmail } from "@funnelsync/config";
import { MOOSEND_LIMITS, MOOSEND_MAX_BATCH, type MoosendClient, type MoosendSubscriber, type MoosendSubscriberInput } from "@funnelsync/moosend-client";
import { createVendorError, type RateLimit } from "@funnelsync/vendor-http";
import { callForSeveral, noteVendorStatus } from "./callContext";
import { systemClock, type Clock } from "./clock";
import { StepSkipped } from "./outcomeRecorder";
import { defaultMargin } from "./redisGate";

interface Pending {
  input: MoosendSubscriberInput;
  waiters: Array<{ resolve: (s: MoosendSubscriber | StepSkipped) => void; reject: (e: unknown) => void }>;
  /** The status Moosend gave the call that answered this entry. */
  status?: number;
}

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

/**
 * What this process has spent of one Moosend window; the shared Redis gate stays the authority.
 * `spaced` calls are also kept an even share of the window apart (2 per 10 s: one per 5 s), so a
 * backlog never waits a whole window because both calls went out back to back.
 */
class LocalWindow {
  private sent: number[] = [];
  constructor(private readonly limit: RateLimit, private readonly now: () => number, private readonly spaced = false) {}
  /** The window with a little margin, like the gate's; forgets calls that have left it. */
  private prune(t: number): number {
    const windowMs = this.limit.perMs + defaultMargin(this.limit);
    this.sent = this.sent.filter((at) => at > t - windowMs);
    return windowMs;
  }
  /** Milliseconds until a call fits (0: now). `unspaced` skips the spacing. */
  waitMs(unspaced = false): number {
    const t = this.now();
    const windowMs = this.prune(t);
    const full = this.sent.length < this.limit.max ? 0 : this.sent[0]! + windowMs - t;
    const last = this.sent[this.sent.length - 1];
    const spacing = this.spaced && !unspaced && last !== undefined ? Math.max(0, last + windowMs / this.limit.max - t) : 0;
    return Math.max(full, spacing);
  }
  spend(): void {
    this.sent.push(this.now());
  }
  /** Calls that fit now, spacing aside. */
  free(): number {
    this.prune(this.now());
    return this.limit.max - this.sent.length;
  }
}

/**
 * A bulk call that is not full waits while enough subscribers to fill it are on their way (a burst:
 * a half-empty call spends a whole call of the burst's budget), at most `FILL_MAX_MS`, looking again
 * every `FILL_POLL_MS`. Otherwise it goes at once.
 */
const FILL_MAX_MS = 5_000;
const FILL_POLL_MS = 150;

/**
 * Jobs that may still subscribe someone within `horizonMs`: those queued or running (including the
 * ones waiting here) and those expected to arrive meanwhile (a burst still being delivered).
 */
export type UpstreamCount = (horizonMs: number) => Promise<number>;

/**
 * Subscribes to Moosend lists, one scheduler per list, choosing the endpoint by what Moosend's limits
 * leave: `subscribe` allows 10 calls per 10 s, `subscribe_many` 2 calls (of up to 1,000) per 10 s. A
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
  private readonly lists = new Map<string, Map<string, Pending>>();
  private readonly running = new Set<string>();
  /** Wakes a list's drain loop from its wait, when a full bulk call's worth has gathered. */
  private readonly wakers = new Map<string, () => void>();
  private readonly single: LocalWindow;
  private readonly bulk: LocalWindow;

  /** Callers waiting for an answer: pending here, in a call in flight or held back (see `holdBack`). */
  private waiting = 0;
  /** Answers of a window's first bulk call, held back until the window's next bulk call has gone. */
  private held: Array<() => void> = [];
  private heldRelease: AbortController | undefined;

  constructor(
    private readonly moosend: MoosendClient,
    private readonly upstream: UpstreamCount = async () => 0,
    private readonly optOuts: OptOuts = async () => new Map(),
    private readonly reactivations: Reactivations = NO_REACTIVATIONS,
    private readonly clock: Clock = systemClock,
  ) {
    const now = () => clock.now();
    this.single = new LocalWindow(MOOSEND_LIMITS.subscribe, now);
    this.bulk = new LocalWindow(MOOSEND_LIMITS.subscribeMany, now, true);
  }

  /** The subscriber Moosend answered with, or `StepSkipped` if the address opted out while waiting. */
  subscribe(listId: string, subscriber: MoosendSubscriberInput): Promise<MoosendSubscriber | StepSkipped> {
    const email = normalizeEmail(subscriber.email);
    this.waiting++;
    let answeredBy: Pending | undefined;
    return new Promise<MoosendSubscriber | StepSkipped>((resolve, reject) => {
      let pending = this.lists.get(listId);
      if (!pending) this.lists.set(listId, (pending = new Map()));
      const entry = pending.get(email);
      if (entry) {
        entry.input = { ...subscriber, email };
        entry.waiters.push({ resolve, reject });
        answeredBy = entry;
      } else {
        pending.set(email, (answeredBy = { input: { ...subscriber, email }, waiters: [{ resolve, reject }] }));
      }
      if (!this.running.has(listId)) void this.drain(listId);
      else if (pending.size >= MOOSEND_MAX_BATCH) this.wakers.get(listId)?.();
    }).finally(() => {
      this.waiting--;
      noteVendorStatus(answeredBy?.status); // runs in the caller's step, as this chain was made there
    });
  }

  /** Jobs that may still subscribe someone within `horizonMs`, beyond those already waiting here. */
  private async comingUp(horizonMs = 0): Promise<number> {
    return Math.max(0, (await this.upstream(horizonMs).catch(() => 0)) - this.waiting);
  }

  private async drain(listId: string): Promise<void> {
    this.running.add(listId);
    const pending = this.lists.get(listId)!;
    try {
      while (pending.size > 0) {
        const singleWait = this.single.waitMs();
        const full = pending.size >= MOOSEND_MAX_BATCH;
        const tail = !full && pending.size >= MOOSEND_MAX_BATCH / 2 && (await this.comingUp()) === 0;
        const bulkWait = this.bulk.waitMs(full || tail);
        const lone = pending.size === 1;
        if (lone && singleWait === 0) {
          await this.send(listId, this.take(pending, 1), "single");
        } else if (bulkWait === 0) {
          await this.fill(listId, pending);
          await this.send(listId, this.take(pending, MOOSEND_MAX_BATCH), "bulk");
        } else {
          // Several waiting go together in the next bulk call; a lone one takes whichever frees first.
          // With half a call's worth or more, look again soon: a burst's tail goes without spacing.
          const ms = lone ? Math.min(singleWait, bulkWait) : bulkWait;
          await this.wait(listId, pending.size >= MOOSEND_MAX_BATCH / 2 ? Math.min(ms, FILL_POLL_MS) : ms);
        }
      }
    } finally {
      this.running.delete(listId);
    }
  }

  private wait(listId: string, ms: number): Promise<void> {
    const waking = new AbortController();
    this.wakers.set(listId, () => waking.abort());
    return this.clock.sleep(ms, waking.signal).finally(() => this.wakers.delete(listId));
  }

  private async fill(listId: string, pending: Map<string, Pending>): Promise<void> {
    const started = this.clock.now();
    for (let left = FILL_MAX_MS; pending.size < MOOSEND_MAX_BATCH && left > 0; left = FILL_MAX_MS - (this.clock.now() - started)) {
      if (pending.size + (await this.comingUp(left)) < MOOSEND_MAX_BATCH) return;
      await this.wait(listId, FILL_POLL_MS);
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

  private async send(listId: string, waiting: Pending[], kind: "single" | "bulk"): Promise<void> {
    let batch = waiting;
    try {
      const emails = waiting.map((p) => p.input.email);
      const [optedOut, backIn] = await Promise.all([this.optOuts(emails), this.reactivations.needed(listId, emails)]);
      batch = [];
      for (const entry of waiting) {
        const reason = optedOut.get(entry.input.email);
        if (reason !== undefined) for (const waiter of entry.waiters) waiter.resolve(new StepSkipped(reason));
        else if (backIn.has(entry.input.email)) void this.resubscribe(listId, entry);
        else batch.push(entry);
      }
      if (batch.length === 0) return;
      (kind === "single" ? this.single : this.bulk).spend();
      if (kind === "bulk") this.releaseHeld();
      const found = new Map<string, MoosendSubscriber>();
      let status: number | undefined;
      if (kind === "single") {
        const one = await callForSeveral(() => this.moosend.subscribe(listId, batch[0]!.input));
        found.set(batch[0]!.input.email, one.value);
        status = one.status;
      } else {
        const many = await callForSeveral(() => this.moosend.subscribeMany(listId, batch.map((p) => p.input)));
        for (const s of many.value.subscribers) found.set(normalizeEmail(s.email), s);
        status = many.status;
      }
      for (const entry of batch) entry.status = status;
      const answer = () => {
        for (const entry of batch) {
          const subscriber = found.get(entry.input.email);
          if (subscriber) for (const waiter of entry.waiters) waiter.resolve(subscriber);
          else {
            const ignored = createVendorError({ vendor: "moosend", status: 200, what: `subscribe_many to ${listId}`, detail: `${entry.input.email} was ignored as invalid`, retryable: false });
            for (const waiter of entry.waiters) waiter.reject(ignored);
          }
        }
      };
      if (kind === "bulk" && (await this.secondCallComing(listId))) this.holdBack(answer);
      else answer();
    } catch (error) {
      for (const entry of batch) for (const waiter of entry.waiters) waiter.reject(error);
    }
  }

  /**
   * Re-activates someone who opted back in: the single `subscribe` (in the single calls' window), then
   * `view.json`, since a member left unsubscribed must not count as subscribed.
   */
  private async resubscribe(listId: string, entry: Pending): Promise<void> {
    try {
      for (let ms = this.single.waitMs(); ms > 0; ms = this.single.waitMs()) await this.clock.sleep(ms);
      this.single.spend();
      const { value: member, status } = await callForSeveral(async () => {
        await this.moosend.subscribe(listId, entry.input);
        return this.moosend.findByEmail(listId, entry.input.email);
      });
      entry.status = status;
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
      for (const waiter of entry.waiters) waiter.resolve(member);
    } catch (error) {
      for (const waiter of entry.waiters) waiter.reject(error);
    }
  }

  /**
   * Whether the bulk call just answered was its window's first under a burst: the window still has a
   * call free and a full call's worth is waiting or on its way. Then its answers wait (see `holdBack`).
   */
  private async secondCallComing(listId: string): Promise<boolean> {
    if (this.bulk.free() === 0) return false;
    return (this.lists.get(listId)?.size ?? 0) + (await this.comingUp()) >= MOOSEND_MAX_BATCH;
  }

  /**
   * Gives a window's first bulk answers once its next bulk call has gone (at most `FILL_MAX_MS` later).
   * Given at once, a thousand jobs finish and the next thousand start while the worker is still
   * reading the people of the window's second call, and that work held the call up; every later window
   * follows the second call. Nothing waits on these answers but the jobs' own completion.
   */
  private holdBack(answer: () => void): void {
    this.held.push(answer);
    if (this.heldRelease) return;
    const release = (this.heldRelease = new AbortController());
    void this.clock.sleep(FILL_MAX_MS, release.signal).then(() => {
      if (!release.signal.aborted) this.releaseHeld();
    });
  }

  private releaseHeld(): void {
    this.heldRelease?.abort();
    this.heldRelease = undefined;
    const held = this.held;
    this.held = [];
    for (const answer of held) answer();
  }
}
