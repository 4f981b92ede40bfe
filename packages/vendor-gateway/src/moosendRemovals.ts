import { Batcher } from "@funnelsync/batcher";
import { normalizeEmail } from "@funnelsync/config";
import { MOOSEND_MAX_BATCH, type MoosendClient } from "@funnelsync/moosend-client";
import { answered, VendorAnswer } from "./vendorAnswer";

/**
 * Takes people off Moosend lists, one batcher per list. A lone removal is Moosend's `remove` (40
 * calls per 10 s); whoever arrives while a call is in flight or waiting for its window goes in the next
 * `remove_many` (up to 1,000 addresses, 8 calls per 10 s). A bulk move of 10,000 leads out of a
 * `removeOnExit` stage then costs about ten calls, where single removes would take 40 minutes.
 */
export class MoosendRemovals {
  /** Per list: the addresses waiting, each answered with the status Moosend gave the call that took it off. */
  private readonly lists = new Map<string, Batcher<string, null, number | undefined>>();

  constructor(private readonly moosend: Pick<MoosendClient, "remove" | "removeMany">) {}

  async remove(listId: string, email: string): Promise<VendorAnswer<void>> {
    const key = listId.toLowerCase();
    let batcher = this.lists.get(key);
    if (!batcher) {
      batcher = new Batcher<string, null, number | undefined>(
        async (entries) => {
          const emails = [...entries.keys()];
          const call = await answered<unknown>(() => (emails.length === 1 ? this.moosend.remove(listId, emails[0]!) : this.moosend.removeMany(listId, emails)));
          return new Map(emails.map((email) => [email, call.vendorStatus]));
        },
        { maxBatch: MOOSEND_MAX_BATCH },
      );
      this.lists.set(key, batcher);
    }
    return new VendorAnswer(undefined, await batcher.add(normalizeEmail(email), null));
  }
}
