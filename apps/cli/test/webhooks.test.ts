import { FUNNELSYNC_WEBHOOK_SETTINGS } from "@funnelsync/kommo-client";
import { eventually, startHarness, type Harness } from "../../../test/harness";
import { cli, cliEnv } from "./cliKit";

describe("npx funnelsync webhooks status | install (Kommo simulator)", () => {
  let h: Harness;
  let secret: string;
  beforeEach(async () => {
    h = await startHarness({ worker: false });
    secret = h.config.kommo.webhookSecret!;
  });
  afterEach(() => h.stop());

  const hook = () => h.kommo.state.webhooks[0]!;

  it("says ok (exit 0) for our enabled hook with every needed event, and never prints the secret", async () => {
    const run = await cli(h, ["webhooks", "status"]);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toMatch(/^kommo_webhook: ok\n/);
    expect(run.stdout).toContain("/webhooks/kommo/<KOMMO_WEBHOOK_SECRET>");
    expect(run.stdout).not.toContain(secret);
  });

  it("says missing (exit 1) with no hook, or one lacking an event; disabled (exit 1) for a disabled one", async () => {
    hook().settings = hook().settings.filter((s) => s !== "status_lead");
    const lacking = await cli(h, ["webhooks", "status"]);
    expect(lacking.code).toBe(1);
    expect(lacking.stdout).toMatch(/^kommo_webhook: missing\n[\s\S]*lacking +status_lead/);
    hook().disabled = true;
    expect(await cli(h, ["webhooks", "status"])).toMatchObject({ code: 1, stdout: expect.stringMatching(/^kommo_webhook: disabled\n/) });
    h.kommo.state.webhooks.length = 0;
    expect(await cli(h, ["webhooks", "status"])).toMatchObject({ code: 1, stdout: expect.stringMatching(/^kommo_webhook: missing\n/) });
  });

  it("installs the hook at PUBLIC_URL, repairs a disabled one, and changes nothing the second time", async () => {
    h.kommo.state.webhooks.length = 0;
    const env = cliEnv(h, { PUBLIC_URL: "https://sync.example.test" });
    const first = await cli(h, ["webhooks", "install"], env);
    expect(first).toMatchObject({ code: 0, stdout: expect.stringMatching(/^kommo webhook registered\nkommo_webhook: ok\n/) });
    expect(first.stdout + first.stderr).not.toContain(secret);
    expect(h.kommo.state.webhooks.map((w) => [w.destination, w.settings.sort(), w.disabled])).toEqual([
      [`https://sync.example.test/webhooks/kommo/${secret}`, [...FUNNELSYNC_WEBHOOK_SETTINGS].sort(), false],
    ]);
    hook().disabled = true;
    expect((await cli(h, ["webhooks", "install"], env)).stdout).toMatch(/^kommo webhook repaired \(was disabled\)\nkommo_webhook: ok\n/);
    expect((await cli(h, ["webhooks", "install"], env)).stdout).toMatch(/^kommo webhook already registered, nothing changed\n/);
    expect(h.kommo.state.webhooks).toHaveLength(1);
  });

  it("refuses to register a hook without PUBLIC_URL (exit 2)", async () => {
    h.kommo.state.webhooks.length = 0;
    const run = await cli(h, ["webhooks", "install"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/PUBLIC_URL is not set/);
    expect(h.kommo.state.webhooks).toHaveLength(0);
  });

  describe("the worker", () => {
    const readyz = async () => (await fetch(`${h.worker!.adminUrl}/readyz`)).json() as Promise<Record<string, unknown>>;
    const gauge = async () => /^funnelsync_kommo_webhook_ok (\d)$/m.exec(await (await fetch(`${h.worker!.adminUrl}/metrics`)).text())?.[1];

    it("reports a disabled hook at start: one error line, the gauge at 0, /readyz detail", async () => {
      await h.stop();
      h = await startHarness({ worker: false, adminPort: 0 });
      h.kommo.state.webhooks[0]!.disabled = true;
      await h.startWorker();
      expect(await readyz()).toMatchObject({ status: "ready", kommo_webhook: "disabled" });
      expect(await gauge()).toBe("0");
      expect(h.logs.filter((l) => l.includes("kommo.webhook: disabled"))).toHaveLength(1);
      expect(h.kommo.state.webhooks[0]!.disabled).toBe(true);
    });

    it("repairs a disabled hook by itself with KOMMO_MANAGE_WEBHOOK=true, and says so", async () => {
      await h.stop();
      h = await startHarness({ worker: false, adminPort: 0, env: { KOMMO_MANAGE_WEBHOOK: "true", PUBLIC_URL: "https://sync.example.test" } });
      h.kommo.state.webhooks[0]!.disabled = true;
      await h.startWorker();
      await eventually(() => !h.kommo.state.webhooks[0]!.disabled);
      expect(await readyz()).toMatchObject({ kommo_webhook: "ok" });
      expect(await gauge()).toBe("1");
      expect(h.logs.some((l) => l.includes("kommo.webhook: repaired") && l.includes('"was":"disabled"'))).toBe(true);
    });
  });
});
