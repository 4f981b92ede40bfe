import { MoosendClient } from "@funnelsync/moosend-client";
import { SEED, startMoosendSimulator, type MoosendSimulator } from "@funnelsync/simulators";
import { MoosendRemovals } from "../src/moosendRemovals";

const LIST = SEED.moosend.lists[0]!.id;
const email = (i: number) => `leaving-${i}@example.test`;

/** Removals against the Moosend simulator, with its real limits (remove 40, remove_many 8 per 10 s). */
describe("MoosendRemovals", () => {
  let sim: MoosendSimulator;
  beforeEach(async () => {
    sim = await startMoosendSimulator({ apiKey: "sim-moosend-key" });
  });
  afterEach(() => sim.close());

  const removals = () => new MoosendRemovals(new MoosendClient({ baseUrl: `${sim.url}/v3`, apiKey: "sim-moosend-key", http: { retryBaseDelayMs: 0 } }));
  const calls = () => sim.requests.filter((r) => r.method === "POST").map((r) => r.path.split("/").pop());
  const status = (address: string) => sim.subscribers(LIST).find((s) => s.Email === address)?.Status;

  it("sends a lone removal as remove, and removals that come together as one remove_many", async () => {
    for (let i = 0; i < 50; i++) sim.addSubscriber(LIST, { email: email(i), name: `Person ${i}` });
    const remover = removals();
    await remover.remove(LIST, email(0));
    expect(calls()).toEqual(["remove.json"]);
    await Promise.all(Array.from({ length: 49 }, (_, i) => remover.remove(LIST, email(i + 1).toUpperCase())));
    expect(calls()).toEqual(["remove.json", "remove_many.json"]);
    const many = sim.requests.filter((r) => r.path.endsWith("remove_many.json"))[0]!;
    expect(String((many.body as { Emails: string }).Emails).split(",")).toHaveLength(49);
    expect(Array.from({ length: 50 }, (_, i) => status(email(i))).filter((s) => s !== "Removed")).toEqual([]);
  });
});
