import { modulesLoadedBy } from "../../../test/loadedModules";

const HTTP_CLIENTS = ["axios", "axios-retry"];

describe("what loading ingest pulls in", () => {
  it("the ingest entry and the webhook subpaths of the clients load no HTTP client", async () => {
    const specifiers = ["@funnelsync/ingest", "@funnelsync/kommo-client/webhook", "@funnelsync/loops-client/webhook", "@funnelsync/moosend-client/webhook"];
    const loaded = await Promise.all(specifiers.map(modulesLoadedBy));
    expect(loaded[0]).toEqual(expect.arrayContaining(["apps/ingest", "express", "bullmq"]));
    expect(specifiers.map((specifier, i) => [specifier, loaded[i]!.filter((name) => HTTP_CLIENTS.includes(name))])).toEqual(specifiers.map((specifier) => [specifier, []]));
  });

  it("the probe sees an HTTP client where one is loaded: a client's main entry", async () => {
    expect(await modulesLoadedBy("@funnelsync/kommo-client")).toEqual(expect.arrayContaining(HTTP_CLIENTS));
  });
});
