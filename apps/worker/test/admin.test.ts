import { eventually, startHarness, uniqueEmail, uniqueId, type Harness } from "../../../test/harness";

const PASSWORD = "correct-horse-battery";
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

describe("worker admin HTTP: dashboard auth, health, readiness", () => {
  describe("with ADMIN_PASSWORD set", () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({ adminPort: 0, env: { ADMIN_USER: "ops", ADMIN_PASSWORD: PASSWORD } });
    });
    afterAll(() => h.stop());
    const admin = (path: string, init?: RequestInit) => fetch(`${h.worker!.adminUrl}${path}`, init);

    it("answers 401 with a basic-auth challenge without credentials, and with a wrong password", async () => {
      const anonymous = await admin("/admin/queues");
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get("www-authenticate")).toBe('Basic realm="funnelsync"');
      expect(await anonymous.text()).not.toContain("kommo-events");
      const wrong = await admin("/admin/queues", { headers: { authorization: basic("ops", "not-the-password") } });
      expect(wrong.status).toBe(401);
      const wrongUser = await admin("/admin/queues", { headers: { authorization: basic("admin", PASSWORD) } });
      expect(wrongUser.status).toBe(401);
    });

    it("serves Bull Board with 200 to the right user and password, listing every queue through its API", async () => {
      const page = await admin("/admin/queues", { headers: { authorization: basic("ops", PASSWORD) } });
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toMatch(/^text\/html/);
      const api = await admin("/admin/queues/api/queues", { headers: { authorization: basic("ops", PASSWORD) } });
      expect(api.status).toBe(200);
      const names = ((await api.json()) as { queues: Array<{ name: string }> }).queues.map((q) => q.name);
      expect(names).toEqual(expect.arrayContaining(["kommo-events", "esp-events"]));
      expect((await admin("/admin/queues/api/queues")).status).toBe(401);
    });

    it("is ready (200) while Redis and Postgres answer, and healthy without credentials", async () => {
      const ready = await admin("/readyz");
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: "ready", redis: true, postgres: true, kommo: "ok", kommo_webhook: "ok" });
      const health = await admin("/healthz");
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: "ok" });
    });
  });

  describe("with ADMIN_READ_ONLY=true", () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({ adminPort: 0, env: { ADMIN_PASSWORD: PASSWORD, ADMIN_READ_ONLY: "true" } });
    });
    afterAll(() => h.stop());

    it("shows the queues but refuses to retry jobs", async () => {
      const headers = { authorization: basic("admin", PASSWORD) };
      expect((await fetch(`${h.worker!.adminUrl}/admin/queues/api/queues`, { headers })).status).toBe(200);
      const retry = await fetch(`${h.worker!.adminUrl}/admin/queues/api/queues/kommo-events/retry/failed`, { method: "PUT", headers });
      expect(retry.status).toBe(405);
    });
  });

  describe("without ADMIN_PASSWORD", () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({ adminPort: 0 });
    });
    afterAll(() => h.stop());

    it("keeps the dashboard off with a 503 saying how to turn it on, even to a caller with credentials", async () => {
      for (const headers of [{}, { authorization: basic("admin", PASSWORD) }] as Array<Record<string, string>>) {
        const res = await fetch(`${h.worker!.adminUrl}/admin/queues`, { headers });
        expect(res.status).toBe(503);
        expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
        expect(await res.text()).toBe("The dashboard is off: set ADMIN_PASSWORD to turn it on.\n");
      }
      expect((await fetch(`${h.worker!.adminUrl}/readyz`)).status).toBe(200);
    });
  });
});

describe("worker /metrics after a sync", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ adminPort: 0 });
  });
  afterAll(() => h.stop());

  /** The value of one sample line, e.g. `funnelsync_jobs_total{queue="…",…} 1`. */
  function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
    const line = text.split("\n").find((l) => {
      if (!l.startsWith(`${name}{`)) return false;
      return Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`));
    });
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
  }

  it("counts the completed jobs, the vendor calls by vendor, method and status, and their durations", async () => {
    const contact = await h.kommo.addContact({ id: uniqueId(), name: "Mia Koch", email: uniqueEmail("mia"), company: "Koch AG" });
    const lead = await h.kommo.addLead({ id: uniqueId(), contactId: contact.id, statusId: 6001 });
    const done = (jobName: string) =>
      eventually(async () => (await h.worker!.db.outcomes.forLead(lead.id)).find((r) => r.step === "job" && r.jobName === jobName && r.status === "succeeded"));
    await done("kommo.leadAdded");
    await h.kommo.moveLead(lead.id, 6002);
    await done("kommo.leadStatusChanged");

    const res = await fetch(`${h.worker!.adminUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    // The counters move just after a job's last row is written: read until the job shows.
    const completed = { queue: "kommo-events", name: "kommo.leadStatusChanged", outcome: "completed" };
    const text = await eventually(async () => {
      const body = await (await fetch(`${h.worker!.adminUrl}/metrics`)).text();
      return sample(body, "funnelsync_jobs_total", completed) === 1 ? body : undefined;
    });
    expect(sample(text, "funnelsync_jobs_total", { queue: "kommo-events", name: "kommo.leadStatusChanged", outcome: "completed" })).toBe(1);
    expect(sample(text, "funnelsync_jobs_total", { queue: "kommo-events", name: "kommo.leadAdded", outcome: "completed" })).toBe(1);
    expect(sample(text, "funnelsync_vendor_calls_total", { vendor: "moosend", method: "POST", status: "200" })).toBeGreaterThanOrEqual(2);
    expect(sample(text, "funnelsync_vendor_calls_total", { vendor: "kommo", method: "GET", status: "200" })).toBeGreaterThanOrEqual(2);
    expect(sample(text, "funnelsync_vendor_calls_total", { vendor: "loops", status: "200" })).toBeGreaterThanOrEqual(1);
    expect(sample(text, "funnelsync_job_seconds_count", { queue: "kommo-events", name: "kommo.leadStatusChanged" })).toBe(1);
    expect(sample(text, "funnelsync_vendor_call_seconds_count", { vendor: "moosend" })).toBeGreaterThanOrEqual(2);
    expect(sample(text, "funnelsync_queue_jobs", { queue: "kommo-events", state: "completed" })).toBeGreaterThanOrEqual(2);
    expect(sample(text, "funnelsync_queue_jobs", { queue: "kommo-events", state: "failed" })).toBe(0);
    expect(text).toContain("# TYPE funnelsync_vendor_429_total counter");
    expect(text).toContain("# TYPE funnelsync_rate_limited_total counter");
  });
});
