import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { startLoopsSimulator } from "@funnelsync/simulators";
import { Webhook } from "standardwebhooks";
import {
  LoopsWebhookPayloadError,
  LoopsWebhookVerificationError,
  verifyLoopsWebhook,
  type LoopsWebhookEvent,
} from "../src/index";

// The Standard Webhooks spec's test vector (vendor-apis.md §3.3).
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const VECTOR = {
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};
// The full Loops delivery of §3.3, signed with the same secret.
const DELIVERY = {
  id: "msg_loops_0001",
  timestamp: 1734425918,
  body: '{"eventName":"contact.unsubscribed","eventTime":1734425918,"webhookSchemaVersion":"1.0.0","contactIdentity":{"id":"cm4ittmhq0011ow9h6fb460yw","email":"test+1@loops.so","userId":null}}',
  signature: "v1,K28uAKJM4XAh/tt3tKYMB1D0495rLeOSx5mmvoIKntM=",
};

const headersOf = (d: { id: string; timestamp: number; signature: string }) => ({
  "webhook-id": d.id,
  "webhook-timestamp": String(d.timestamp),
  "webhook-signature": d.signature,
});
const at = (seconds: number) => new Date(seconds * 1000);

/** Signs `body` with the test secret, as Loops would at `timestamp`. */
function signed(body: string, timestamp = DELIVERY.timestamp, id = "msg_test") {
  return { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": new Webhook(SECRET).sign(id, at(timestamp), body) };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a throw");
}

describe("verifyLoopsWebhook", () => {
  it("accepts the Standard Webhooks test vector's signature; its body is then no Loops event (a payload error)", () => {
    const err = thrown(() => verifyLoopsWebhook(SECRET, VECTOR.body, headersOf(VECTOR), at(VECTOR.timestamp)));
    expect(err).toBeInstanceOf(LoopsWebhookPayloadError);
  });

  it("returns the event of a genuine Loops delivery, with its webhook id", () => {
    const event = verifyLoopsWebhook(SECRET, Buffer.from(DELIVERY.body), headersOf(DELIVERY), at(DELIVERY.timestamp));
    expect(event).toEqual({
      known: true,
      webhookId: "msg_loops_0001",
      eventName: "contact.unsubscribed",
      eventTime: 1734425918,
      webhookSchemaVersion: "1.0.0",
      contactIdentity: { id: "cm4ittmhq0011ow9h6fb460yw", email: "test+1@loops.so", userId: null },
    });
  });

  it("rejects a forged signature and a re-serialised body as unauthenticated", () => {
    const forged = { ...headersOf(VECTOR), "webhook-signature": "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=" };
    expect(thrown(() => verifyLoopsWebhook(SECRET, VECTOR.body, forged, at(VECTOR.timestamp)))).toBeInstanceOf(LoopsWebhookVerificationError);
    const reserialised = JSON.stringify(JSON.parse(VECTOR.body));
    expect(thrown(() => verifyLoopsWebhook(SECRET, reserialised, headersOf(VECTOR), at(VECTOR.timestamp)))).toMatchObject({
      name: "LoopsWebhookVerificationError",
      message: "no matching signature",
    });
  });

  it("rejects timestamps more than 5 minutes old or ahead, and accepts exactly 5 minutes", () => {
    const verifyAt = (seconds: number) => () => verifyLoopsWebhook(SECRET, DELIVERY.body, headersOf(DELIVERY), at(seconds));
    expect(thrown(verifyAt(DELIVERY.timestamp + 301))).toMatchObject({ name: "LoopsWebhookVerificationError", message: "message timestamp too old" });
    expect(thrown(verifyAt(DELIVERY.timestamp - 301))).toMatchObject({ name: "LoopsWebhookVerificationError", message: "message timestamp too new" });
    expect(verifyAt(DELIVERY.timestamp + 300)()).toMatchObject({ eventName: "contact.unsubscribed" });
    expect(verifyAt(DELIVERY.timestamp - 300)()).toMatchObject({ eventName: "contact.unsubscribed" });
  });

  it("accepts any matching v1 signature among several (key rotation), and ignores other versions", () => {
    const [, good] = DELIVERY.signature.split(",");
    const rotated = { ...headersOf(DELIVERY), "webhook-signature": `v1,c2lnbmVkIGJ5IHRoZSBvbGQga2V5 ${DELIVERY.signature}` };
    expect(verifyLoopsWebhook(SECRET, DELIVERY.body, rotated, at(DELIVERY.timestamp))).toMatchObject({ webhookId: "msg_loops_0001" });
    const wrongVersion = { ...headersOf(DELIVERY), "webhook-signature": `v2,${good}` };
    expect(thrown(() => verifyLoopsWebhook(SECRET, DELIVERY.body, wrongVersion, at(DELIVERY.timestamp)))).toBeInstanceOf(LoopsWebhookVerificationError);
  });

  it("reads headers in any case and as arrays, and rejects a delivery missing one", () => {
    const shouted = { "Webhook-Id": DELIVERY.id, "WEBHOOK-TIMESTAMP": [String(DELIVERY.timestamp)], "webhook-signature": ["v1,AAAA", DELIVERY.signature] };
    expect(verifyLoopsWebhook(SECRET, DELIVERY.body, shouted, at(DELIVERY.timestamp))).toMatchObject({ eventName: "contact.unsubscribed" });
    const { "webhook-id": _id, ...missing } = headersOf(DELIVERY);
    expect(thrown(() => verifyLoopsWebhook(SECRET, DELIVERY.body, missing, at(DELIVERY.timestamp)))).toBeInstanceOf(LoopsWebhookVerificationError);
  });

  it("raises a payload error for a signed body that is not JSON, or a known event without its fields", () => {
    expect(thrown(() => verifyLoopsWebhook(SECRET, "not json", signed("not json"), at(DELIVERY.timestamp)))).toMatchObject({
      name: "LoopsWebhookPayloadError",
      message: "the signed body is not JSON",
    });
    const noIdentity = JSON.stringify({ eventName: "email.hardBounced", eventTime: 1, webhookSchemaVersion: "1.0.0" });
    expect(thrown(() => verifyLoopsWebhook(SECRET, noIdentity, signed(noIdentity), at(DELIVERY.timestamp)))).toBeInstanceOf(LoopsWebhookPayloadError);
  });

  it("parses an unknown event name into the generic variant, and the test event without a contact", () => {
    const sent = JSON.stringify({
      eventName: "campaign.email.sent",
      eventTime: 1734425918,
      webhookSchemaVersion: "1.0.0",
      contactIdentity: { id: "c1", email: "a@example.test", userId: "u1" },
      extra: { any: "thing" },
    });
    expect(verifyLoopsWebhook(SECRET, sent, signed(sent), at(DELIVERY.timestamp))).toMatchObject({
      known: false,
      eventName: "campaign.email.sent",
      contactIdentity: { id: "c1", email: "a@example.test", userId: "u1" },
      payload: expect.objectContaining({ extra: { any: "thing" } }),
    });
    const test = JSON.stringify({ eventName: "testing.testEvent", eventTime: 1734425918, webhookSchemaVersion: "1.0.0" });
    expect(verifyLoopsWebhook(SECRET, test, signed(test), at(DELIVERY.timestamp))).toMatchObject({ known: true, eventName: "testing.testEvent", contactIdentity: null });
  });
});

describe("verifyLoopsWebhook: engagement events", () => {
  it("types email.opened with its message and source, and refuses one without them", () => {
    const opened = JSON.stringify({
      eventName: "email.opened",
      eventTime: 1734425918,
      webhookSchemaVersion: "1.0.0",
      sourceType: "campaign",
      campaignId: "cm4t1suns001uw6atri87v54s",
      email: { id: "cm4t1sseg004tje7982991nan", emailMessageId: "cm4ittv1v001oow9hruou8na8", subject: "Subject of the email" },
      contactIdentity: { id: "c1", email: "a@example.test", userId: null },
    });
    expect(verifyLoopsWebhook(SECRET, opened, signed(opened), at(DELIVERY.timestamp))).toMatchObject({
      known: true,
      eventName: "email.opened",
      campaignId: "cm4t1suns001uw6atri87v54s",
      email: { id: "cm4t1sseg004tje7982991nan", subject: "Subject of the email" },
    });
    const bare = JSON.stringify({ eventName: "email.clicked", eventTime: 1, webhookSchemaVersion: "1.0.0", contactIdentity: { id: "c1", email: "a@example.test" } });
    expect(thrown(() => verifyLoopsWebhook(SECRET, bare, signed(bare), at(DELIVERY.timestamp)))).toBeInstanceOf(LoopsWebhookPayloadError);
  });
});

describe("verifyLoopsWebhook on the simulator's deliveries", () => {
  it("verifies and types every delivery the simulator sends", async () => {
    const received: Array<{ headers: IncomingHttpHeaders; body: Buffer }> = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const sim = await startLoopsSimulator({ webhookUrl: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/loops` });
    try {
      const listId = sim.state.lists[0]!.id;
      const contact = sim.addContact({ email: "ana@example.test", userId: "kommo-7", mailingLists: { [listId]: true } });
      await sim.hardBounce("ana@example.test");
      await sim.spamReport("ana@example.test", { sourceType: "transactional" });
      await sim.unsubscribeFromList("ana@example.test", listId);
      await sim.deleteContact("ana@example.test");
      await sim.sendTestEvent();
      const events: LoopsWebhookEvent[] = received.map((r) => verifyLoopsWebhook(sim.webhookSecret, r.body, r.headers));
      expect(events.map((e) => e.eventName)).toEqual([
        "email.hardBounced",
        "contact.unsubscribed",
        "email.spamReported",
        "contact.mailingList.unsubscribed",
        "contact.deleted",
        "contact.unsubscribed",
        "testing.testEvent",
      ]);
      expect(new Set(events.map((e) => e.webhookId)).size).toBe(7);
      expect(events.every((e) => e.known)).toBe(true);
      expect(events[0]).toMatchObject({ sourceType: "campaign", contactIdentity: { id: contact.id, email: "ana@example.test", userId: "kommo-7" } });
      expect(events[2]).toMatchObject({ sourceType: "transactional", transactionalId: "cm_welcome_01" });
      expect(events[3]).toMatchObject({ mailingList: { id: listId } });
      expect(events[6]!.contactIdentity).toBeNull();
    } finally {
      await sim.close();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });
});
