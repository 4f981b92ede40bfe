import { modulesLoadedBy } from "../../../test/loadedModules";

describe("the worker's public entry", () => {
  it("loads the worker and the clients, but neither ingest nor the simulators", async () => {
    const loaded = await modulesLoadedBy("@funnelsync/worker");
    expect(loaded).toEqual(expect.arrayContaining(["apps/worker", "packages/kommo-client", "bullmq"]));
    expect(loaded.filter((name) => name === "apps/ingest" || name === "apps/launcher" || name === "packages/simulators")).toEqual([]);
  });
});
