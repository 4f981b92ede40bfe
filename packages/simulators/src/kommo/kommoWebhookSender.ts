import { InFlight } from "../shared/inFlight";
import type { KommoSimState, KommoWebhookSetting } from "./kommoState";
import { deliverKommoWebhook } from "./kommoWebhooks";

/** Deliveries that go wrong the way Kommo's do: a share of changes never announced, some announced twice. */
export interface KommoWebhookFaults {
  /** Share (0–1) of changes whose webhooks are never sent; the change and its event still happen. */
  dropShare: number;
  /** Share (0–1) of sent changes whose webhooks are sent again, late, by `sendLateDuplicates()`. */
  lateDuplicateShare: number;
}

/** One webhook of a change: the event it is subscribed as, and its payload taken when the change happened. */
export type KommoHook = [KommoWebhookSetting, Record<string, unknown>];

/** Sends each change's webhooks to their subscribers, with the faults that `faults` asks for. */
export class KommoWebhookSender {
  readonly faults: KommoWebhookFaults = { dropShare: 0, lateDuplicateShare: 0 };
  private dropped = 0;
  private lateDuplicates: KommoHook[][] = [];
  private readonly inFlight = new InFlight();

  constructor(
    private readonly state: KommoSimState,
    private readonly timeoutMs: number,
    private readonly random: () => number,
  ) {}

  /** Delivers one change's webhooks in turn; `faults` may drop them all, or hold a copy to send late. */
  send(hooks: KommoHook[]): Promise<void> {
    if (this.faults.dropShare > 0 && this.random() < this.faults.dropShare) {
      this.dropped++;
      return Promise.resolve();
    }
    if (this.faults.lateDuplicateShare > 0 && this.random() < this.faults.lateDuplicateShare) this.lateDuplicates.push(hooks);
    return this.deliver(hooks);
  }

  /** Changes whose webhooks were dropped so far. */
  droppedChanges(): number {
    return this.dropped;
  }

  async sendLateDuplicates(): Promise<number> {
    const held = this.lateDuplicates;
    this.lateDuplicates = [];
    await Promise.all(held.map((hooks) => this.deliver(hooks)));
    return held.length;
  }

  settled(): Promise<void> {
    return this.inFlight.idle();
  }

  private deliver(hooks: KommoHook[]): Promise<void> {
    return this.inFlight.track(
      (async () => {
        for (const [event, payload] of hooks) await deliverKommoWebhook(this.state, event, payload, { timeoutMs: this.timeoutMs });
      })(),
    );
  }
}
