import { SEED, startMoosendSimulator } from "@funnelsync/simulators";
import { MoosendWebhookError, parseMoosendDate, parseMoosendWebhook } from "../src/index";

const ID = "f582c388-7916-4890-a9ab-b592615ef095";

describe("parseMoosendWebhook", () => {
  it("reads the confirmed shape: Event.ContactContext.Id and .Tags", () => {
    expect(parseMoosendWebhook({ Event: { ContactContext: { Id: ID, Tags: ["potential"] } } })).toEqual({
      subscriberId: ID,
      tags: ["potential"],
    });
  });

  it("tolerates extra keys, and picks up an e-mail and a list id when the body carries them", () => {
    const body = {
      Event: {
        Type: "Unsubscribed",
        ContactContext: { Id: ID, Tags: [], Email: "Ana@Example.test", MailingListId: SEED.moosend.lists[0].id, Extra: 1 },
      },
      Account: "acme",
    };
    expect(parseMoosendWebhook(body)).toEqual({
      subscriberId: ID,
      tags: [],
      email: "ana@example.test",
      listId: SEED.moosend.lists[0].id,
    });
  });

  it("answers an empty tag list when Tags is missing or not a list", () => {
    expect(parseMoosendWebhook({ Event: { ContactContext: { Id: ID } } }).tags).toEqual([]);
    expect(parseMoosendWebhook({ Event: { ContactContext: { Id: ID, Tags: "potential" } } }).tags).toEqual([]);
  });

  it("accepts the raw JSON text as well as a parsed body", () => {
    expect(parseMoosendWebhook(JSON.stringify({ Event: { ContactContext: { Id: ID, Tags: ["a"] } } })).tags).toEqual(["a"]);
  });

  it.each([
    ["no body", undefined],
    ["an array", [{ Event: {} }]],
    ["no Event", { ContactContext: { Id: ID } }],
    ["no ContactContext", { Event: { Id: ID } }],
    ["no Id", { Event: { ContactContext: { Tags: [] } } }],
    ["an Id that is not a GUID", { Event: { ContactContext: { Id: "42" } } }],
    ["text that is not JSON", "Event=1"],
  ])("throws MoosendWebhookError for %s", (_case, body) => {
    expect(() => parseMoosendWebhook(body)).toThrow(MoosendWebhookError);
  });

  it("reads what the simulator's automation step posts", async () => {
    const sim = await startMoosendSimulator({ webhook: { url: "http://127.0.0.1:1/unreachable" } });
    try {
      const list = SEED.moosend.lists[2].id;
      const delivery = await sim.unsubscribe(list, "sofia@example.test", { viaAutomation: true });
      expect(parseMoosendWebhook(delivery!.body)).toEqual({ subscriberId: delivery!.subscriberId, tags: ["customer"] });
    } finally {
      await sim.close();
    }
  });
});

describe("parseMoosendDate", () => {
  it.each([
    ["/Date(1465379934028)/", 1465379934028],
    ["/Date(1461777152597+0100)/", 1461777152597],
    ["/Date(1461777152597-0500)/", 1461777152597],
    ["/Date(-1000)/", -1000],
    ["2016-06-08T10:00:00Z", Date.UTC(2016, 5, 8, 10)],
  ])("reads %s as UTC milliseconds", (text, ms) => {
    expect(parseMoosendDate(text)).toEqual(new Date(ms));
  });

  it.each([[null], [undefined], [""], ["yesterday"], [42]])("answers null for %p", (value) => {
    expect(parseMoosendDate(value)).toBeNull();
  });
});
