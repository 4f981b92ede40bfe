import { MoosendClient } from "@funnelsync/moosend-client";
import { SEED, startMoosendSimulator, type MoosendSimulator } from "@funnelsync/simulators";
import { MoosendRemovals } from "../src/moosendRemovals";
import { noteVendorStatus } from "../src/vendorAnswer";

const LIST = SEED.moosend.lists[0]!.id;
const email = (i: number) => `leaving-${i}@example.test`;

/**
 * Removals against the Moosend simulator, with its real limits (remove 40, remove_many 8 per 10 s);
 * the client reports its calls' statuses as the gateway's clients do.
 */
describe("MoosendRemovals", () => {
  let sim: MoosendSimulator;
  beforeEach(async () => {
    sim = await startMoosendSimulator({ apiKey: "sim-moosend-key" });
  });
  afterEach(() => sim.close());

  const removals = () => new MoosendRemovals(new MoosendClient({ baseUrl: `${sim.url}/v3`, apiKey: "sim-moosend-key", http: { retryBaseDelayMs: 0, observe: (call) => noteVendorStatus(call.status) } }));
  const calls = () => sim.requests.filter((r) => r.method === "POST").map((r) => r.path.split("/").pop());
  const status = (address: string) => sim.subscribers(LIST).find((s) => s.Email === address)?.Status;

  it("sends a lone removal as remove, and the removals that come while it is in flight as one remove_many", async () => {
    for (let i = 0; i < 50; i++) sim.addSubscriber(LIST, { email: email(i), name: `Person ${i}` });
    const remover = removals();
    const lone = remover.remove(LIST, email(0));
    const together = Array.from({ length: 49 }, (_, i) => remover.remove(LIST, email(i + 1).toUpperCase()));
    const answers = await Promise.all([lone, ...together]);
    expect(calls()).toEqual(["remove.json", "remove_many.json"]);
    // Each removal answers with the status Moosend gave the call that carried it.
    expect(answers.map((a) => a.vendorStatus)).toEqual(Array(50).fill(200));
    const many = sim.requests.filter((r) => r.path.endsWith("remove_many.json"))[0]!;
    expect(String((many.body as { Emails: string }).Emails).split(",")).toHaveLength(49);
    expect(Array.from({ length: 50 }, (_, i) => status(email(i))).filter((s) => s !== "Removed")).toEqual([]);
  });
});
