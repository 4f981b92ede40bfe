import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parser } from "@prometheus-io/lezer-promql";
import { parse as parseYaml } from "yaml";
import { createWorkerMetrics } from "@funnelsync/worker";
import { REPO_ROOT } from "../harness";

interface Rule {
  alert?: string;
  expr?: unknown;
  for?: unknown;
  annotations?: { summary?: unknown; description?: unknown };
}

const rules: Rule[] = (parseYaml(readFileSync(resolve(REPO_ROOT, "ops/prometheus/alerts.yml"), "utf8")) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);

/** Where Prometheus' own grammar (the one its UI uses) could not parse the expression; none means valid. */
function syntaxErrors(expr: string): string[] {
  const errors: string[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) errors.push(`at ${node.from}: ${JSON.stringify(expr.slice(node.from, node.from + 20))}`);
    },
  });
  return errors;
}

describe("ops/prometheus/alerts.yml", () => {
  it("covers failed jobs, a growing queue, the Kommo webhook, vendor auth and pauses, and the reconciler", () => {
    expect(rules.map((r) => r.alert)).toEqual([
      "FunnelsyncJobsFailed",
      "FunnelsyncQueueGrowing",
      "FunnelsyncKommoWebhookNotOk",
      "FunnelsyncVendorAuthFailing",
      "FunnelsyncVendorPaused",
      "FunnelsyncReconcilerBehind",
    ]);
  });

  it.each(rules.map((r) => [r.alert, r] as const))("%s parses as PromQL, has a duration and says what to do", (_name, rule) => {
    expect(typeof rule.expr).toBe("string");
    expect(syntaxErrors(rule.expr as string)).toEqual([]);
    if (rule.for !== undefined) expect(rule.for).toMatch(/^\d+[smhd]$/);
    expect(String(rule.annotations?.summary ?? "")).not.toBe("");
    expect(String(rule.annotations?.description ?? "").length).toBeGreaterThan(60);
  });

  it("rejects a broken expression (the check can fail)", () => {
    expect(syntaxErrors("sum by (vendor (increase(x[5m])) > 0")).not.toEqual([]);
  });

  it("names only metrics the apps export", async () => {
    const exported = new Set((await createWorkerMetrics(() => [], { defaultMetrics: false }).registry.getMetricsAsJSON()).map((m) => m.name));
    for (const rule of rules) {
      for (const name of (rule.expr as string).match(/\bfunnelsync_[a-z_]+/g) ?? []) expect([rule.alert, exported.has(name)]).toEqual([rule.alert, true]);
    }
  });
});
