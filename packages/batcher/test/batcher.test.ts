import { Batcher } from "../src";

/** A batch function that records what each call carried and answers after `ms`. */
function recordingBatch(ms = 5) {
  const calls: Array<Array<[string, number]>> = [];
  const run = async (entries: Map<string, number>) => {
    calls.push([...entries]);
    await new Promise((resolve) => setTimeout(resolve, ms));
    return new Map([...entries].filter(([key]) => key !== "absent").map(([key, input]) => [key, input * 10]));
  };
  return { calls, run };
}

describe("Batcher", () => {
  it("sends a lone call at once and rides later arrivals on one next batch", async () => {
    const { calls, run } = recordingBatch();
    const batcher = new Batcher(run, { maxBatch: 100 });
    const first = batcher.add("a", 1);
    expect(calls).toEqual([[["a", 1]]]); // no tick of waiting for company
    const rest = ["b", "c", "d"].map((key, i) => batcher.add(key, i + 2));
    expect(await Promise.all([first, ...rest])).toEqual([10, 20, 30, 40]);
    expect(calls).toEqual([[["a", 1]], [["b", 2], ["c", 3], ["d", 4]]]);
  });

  it("splits at maxBatch and keeps the order of batches", async () => {
    const { calls, run } = recordingBatch();
    const batcher = new Batcher(run, { maxBatch: 2 });
    await Promise.all(["a", "b", "c", "d", "e"].map((key, i) => batcher.add(key, i)));
    expect(calls.map((c) => c.map(([key]) => key))).toEqual([["a"], ["b", "c"], ["d", "e"]]);
  });

  it("sends a key added twice before its batch leaves once, with the latest input, to both callers", async () => {
    const { calls, run } = recordingBatch();
    const batcher = new Batcher(run, { maxBatch: 10 });
    const lone = batcher.add("x", 0);
    const [early, late] = [batcher.add("k", 1), batcher.add("k", 2)];
    expect(await Promise.all([lone, early, late])).toEqual([0, 20, 20]);
    expect(calls[1]).toEqual([["k", 2]]);
  });

  it("answers a key the batch left out with `missing`, or rejects it without one", async () => {
    const { run } = recordingBatch();
    expect(await new Batcher(run, { maxBatch: 10, missing: () => -1 }).add("absent", 1)).toBe(-1);
    await expect(new Batcher(run, { maxBatch: 10 }).add("absent", 1)).rejects.toThrow("batch call returned nothing for absent");
  });

  it("rejects every caller of a failed batch and goes on with the next", async () => {
    let fail = true;
    const batcher = new Batcher(
      async (entries: Map<string, number>) => {
        const failing = fail;
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (failing) throw new Error("database down");
        return new Map([...entries].map(([key, input]) => [key, input]));
      },
      { maxBatch: 10 },
    );
    const doomed = batcher.add("a", 1);
    fail = false; // the batch already left, so it fails; the next one does not
    const later = batcher.add("b", 2);
    await expect(doomed).rejects.toThrow("database down");
    expect(await later).toBe(2);
    expect(batcher.waiting).toBe(0);
  });

  it("takes a batch only once `admit` resolves, so calls arriving meanwhile ride along, and hands it the admission", async () => {
    const seen: Array<{ keys: string[]; admission: number | undefined }> = [];
    let admissions = 0;
    const batcher = new Batcher(
      async (entries: Map<string, number>, admission: number | undefined) => {
        seen.push({ keys: [...entries.keys()], admission });
        return new Map([...entries].map(([key, input]) => [key, input]));
      },
      { maxBatch: 10, admit: () => new Promise<number>((resolve) => setTimeout(() => resolve(++admissions), 20)) },
    );
    const first = batcher.add("a", 1);
    const second = batcher.add("b", 2); // arrives while the first batch waits to be admitted
    expect(await Promise.all([first, second])).toEqual([1, 2]);
    expect(seen).toEqual([{ keys: ["a", "b"], admission: 1 }]);
  });

  it("awaits `fill` before a batch that is not full, so calls it waited for ride along; a full batch goes without it", async () => {
    const { calls, run } = recordingBatch(30);
    let fills = 0;
    const batcher = new Batcher(run, { maxBatch: 3, fill: () => new Promise<void>((resolve) => setTimeout(() => resolve(void fills++), 20)) });
    const after = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const first = batcher.add("a", 1);
    const duringFill = after(5).then(() => batcher.add("b", 2));
    const duringFirstBatch = after(35).then(() => Promise.all(["c", "d", "e"].map((key, i) => batcher.add(key, i))));
    await Promise.all([first, duringFill, duringFirstBatch]);
    expect(calls.map((c) => c.map(([key]) => key))).toEqual([["a", "b"], ["c", "d", "e"]]);
    expect(fills).toBe(1);
  });

  it("fails the batch an admission failed for, and admits the next one afresh", async () => {
    let refuse = true;
    const batcher = new Batcher(async (entries: Map<string, number>) => new Map([...entries]), {
      maxBatch: 10,
      admit: async () => {
        if (refuse) {
          refuse = false;
          throw new Error("rate limited for 70 s");
        }
      },
    });
    await expect(batcher.add("a", 1)).rejects.toThrow("rate limited for 70 s");
    expect(await batcher.add("b", 2)).toBe(2);
  });

  it("with isolateFailures, retries a failed batch entry by entry so only the bad entry fails", async () => {
    const calls: string[][] = [];
    const batcher = new Batcher(
      async (entries: Map<string, number>) => {
        calls.push([...entries.keys()]);
        if ([...entries.values()].some((input) => input < 0)) throw new Error("row refused");
        return new Map([...entries]);
      },
      { maxBatch: 10, isolateFailures: true },
    );
    const lone = batcher.add("first", 0);
    const [good, bad, alsoGood] = [batcher.add("a", 1), batcher.add("b", -1), batcher.add("c", 3)];
    expect(await lone).toBe(0);
    expect(await good).toBe(1);
    await expect(bad).rejects.toThrow("row refused");
    expect(await alsoGood).toBe(3);
    expect(calls).toEqual([["first"], ["a", "b", "c"], ["a"], ["b"], ["c"]]);
  });

  it("does not retry entry by entry a batch whose admission failed: there is nothing to isolate", async () => {
    let runs = 0;
    const batcher = new Batcher(
      async (entries: Map<string, number>) => {
        runs++;
        return new Map([...entries]);
      },
      {
        maxBatch: 10,
        isolateFailures: true,
        admit: async () => {
          throw new Error("rate limited for 70 s");
        },
      },
    );
    const results = await Promise.allSettled([batcher.add("a", 1), batcher.add("b", 2)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(runs).toBe(0);
  });
});
