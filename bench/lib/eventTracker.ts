import { normalizeEmail } from "@funnelsync/config";
import type { BenchLead } from "./kommoEvents";
import { requestKeys, succeeded, type TimedRequest } from "./vendors";

/** One stage change the bench sent, and when each of its expected vendor effects completed. */
export interface TrackedEvent {
  lead: BenchLead;
  /** performance.now() just before the webhook was sent. */
  sentAt: number;
  ackAt?: number;
  ackStatus?: number;
  effects: Map<string, number>;
  /** When the last expected effect completed; undefined while any is missing. */
  doneAt?: number;
}

/** Which of the expected effects a simulator request delivered, and for whom (by e-mail). */
export type EffectMatcher = (request: TimedRequest) => Array<{ email: string; effect: string }>;

function emailsOf(body: unknown): string[] {
  if (typeof body !== "object" || body === null) return [];
  const b = body as { Email?: unknown; Subscribers?: unknown; email?: unknown };
  const single = [b.Email, b.email].filter((e): e is string => typeof e === "string");
  const many = Array.isArray(b.Subscribers) ? b.Subscribers.map((s: { Email?: unknown }) => s?.Email).filter((e): e is string => typeof e === "string") : [];
  return [...single, ...many].map(normalizeEmail);
}

/** The person is in the list: a successful subscribe.json or subscribe_many.json naming them. */
export function moosendSubscribed(listId: string): EffectMatcher {
  const path = new RegExp(`^/v3/subscribers/${listId}/subscribe(_many)?\\.json$`, "i");
  return (r) => (r.vendor === "moosend" && succeeded(r) && path.test(r.entry.path) ? emailsOf(r.entry.body).map((email) => ({ email, effect: "moosend.subscribe" })) : []);
}

/** Loops received the stage's event for the person. */
export function loopsEventSent(eventName: string): EffectMatcher {
  return (r) => {
    if (r.vendor !== "loops" || !succeeded(r) || r.entry.path !== "/api/v1/events/send") return [];
    const body = r.entry.body as { eventName?: unknown } | undefined;
    return body?.eventName === eventName ? emailsOf(r.entry.body).map((email) => ({ email, effect: `loops.event.${eventName}` })) : [];
  };
}

/**
 * Follows the simulators' request log as it grows and marks each sent event's effects as they
 * complete. Each e-mail belongs to exactly one event in a scenario, so a request naming it is that
 * event's.
 */
export class EventTracker {
  readonly events: TrackedEvent[] = [];
  private readonly byEmail = new Map<string, TrackedEvent>();
  /**
   * Effects seen before their event was sent, by e-mail: the bench changes Kommo before it posts the
   * webhook, and the worker's reconciler may find the change in Kommo's events feed first.
   */
  private readonly early = new Map<string, Map<string, number>>();
  private cursor = 0;
  private done = 0;

  constructor(
    private readonly log: TimedRequest[],
    private readonly required: string[],
    private readonly matchers: EffectMatcher[],
  ) {}

  /** Registers an event right before its webhook is sent. */
  sent(lead: BenchLead, sentAt: number): TrackedEvent {
    const event: TrackedEvent = { lead, sentAt, effects: new Map() };
    this.events.push(event);
    const email = lead.email.toLowerCase();
    this.byEmail.set(email, event);
    for (const effect of this.early.get(email)?.keys() ?? []) this.record(event, effect, sentAt);
    return event;
  }

  /** Reads the log entries added since the last call; returns how many events are complete. */
  update(): number {
    for (; this.cursor < this.log.length; this.cursor++) {
      const request = this.log[this.cursor]!;
      for (const match of this.matchers) {
        for (const { email, effect } of match(request)) {
          const event = this.byEmail.get(email);
          if (!event) {
            const seen = this.early.get(email) ?? new Map<string, number>();
            this.early.set(email, seen.set(effect, request.finishedAt));
            continue;
          }
          // An effect already there when the webhook went counts from the send.
          if (!event.effects.has(effect)) this.record(event, effect, Math.max(request.finishedAt, event.sentAt));
        }
      }
    }
    return this.done;
  }

  private record(event: TrackedEvent, effect: string, at: number): void {
    event.effects.set(effect, at);
    if (event.doneAt === undefined && this.required.every((e) => event.effects.has(e))) {
      event.doneAt = Math.max(...event.effects.values());
      this.done++;
    }
  }

  get completed(): number {
    return this.done;
  }

  /** Events whose effects were all there when their webhook was sent (the worker synced them from Kommo's events feed). */
  get doneBeforeSent(): number {
    return this.events.filter((e) => e.doneAt === e.sentAt).length;
  }

  /**
   * Per event, milliseconds from send to its last vendor call completed: the latest successful
   * request (any vendor) naming its e-mail, lead or contact, and no earlier than its last expected
   * effect. Infinity for an event whose effects never all completed.
   */
  latencies(): number[] {
    this.update();
    const lastByKey = new Map<string, number>();
    for (const request of this.log) {
      if (!succeeded(request)) continue;
      for (const key of requestKeys(request)) lastByKey.set(key, Math.max(lastByKey.get(key) ?? 0, request.finishedAt));
    }
    return this.events.map((event) => {
      if (event.doneAt === undefined) return Infinity;
      const keys = [`email:${event.lead.email.toLowerCase()}`, `lead:${event.lead.leadId}`, `contact:${event.lead.contactId}`];
      const last = Math.max(event.doneAt, ...keys.map((k) => lastByKey.get(k) ?? 0));
      return last - event.sentAt;
    });
  }
}
