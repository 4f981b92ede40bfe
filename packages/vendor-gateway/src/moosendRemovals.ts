import { Batcher } from "@funnelsync/batcher";
import { normalizeEmail } from "@funnelsync/config";
import { MOOSEND_MAX_BATCH, type MoosendClient } from "@funnelsync/moosend-client";
import { callForSeveral, currentStep, type StepCalls } from "./callContext";

/**
 * Takes people off Moosend lists, one batcher per list. A lone removal is Moosend's `remove` (40
 * calls per 10 s); whoever arrives while a call is in flight or waiting for its window goes in the next
 * `remove_many` (up to 1,000 addresses, 8 calls per 10 s). A bulk move of 10,000 leads out of a
 * `removeOnExit` stage then costs about ten calls, where single removes would take 40 minutes.
 */
export class MoosendRemovals {
  /**
   * Per list: each address with the step that asked for its removal, which gets the call's status
   * (a second request for one address in the same batch takes the step's place: the first records none).
   */
  private readonly lists = new Map<string, Batcher<string, StepCalls | undefined, void>>();

  constructor(private readonly moosend: Pick<MoosendClient, "remove" | "removeMany">) {}

  remove(listId: string, email: string): Promise<void> {
    const key = listId.toLowerCase();
    let batcher = this.lists.get(key);
    if (!batcher) {
      batcher = new Batcher<string, StepCalls | undefined, void>(
        async (entries) => {
          const emails = [...entries.keys()];
          await callForSeveral<unknown>(() => (emails.length === 1 ? this.moosend.remove(listId, emails[0]!) : this.moosend.removeMany(listId, emails)), entries.values());
          return new Map(emails.map((email) => [email, undefined]));
        },
        { maxBatch: MOOSEND_MAX_BATCH },
      );
      this.lists.set(key, batcher);
    }
    return batcher.add(normalizeEmail(email), currentStep());
  }
}
