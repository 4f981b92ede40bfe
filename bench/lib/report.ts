import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** "n/a": the figure has no target, or could not be measured (then `shown` says why). */
export type Verdict = "pass" | "FAIL" | "n/a";

/** One row of the table and of the JSON: a measured figure, its target and whether it met it. */
export interface Figure {
  scenario: string;
  figure: string;
  /** The number, in `unit`; null when it could not be measured (e.g. the backlog never drained). */
  value: number | null;
  unit: string;
  /** How the table shows the value, e.g. "> 60.0 s (did not drain)". */
  shown: string;
  target: string;
  verdict: Verdict;
}

export interface FigureOptions {
  digits?: number;
  /** Overrides the shown value (for "did not finish" and similar). */
  shown?: string;
  /** The target as text, and whether the value meets it (undefined: could not be judged). */
  target?: { text: string; met: boolean | undefined };
}

export function figure(scenario: string, name: string, value: number | null, unit: string, options: FigureOptions = {}): Figure {
  const digits = options.digits ?? 1;
  const shown = options.shown ?? (value === null ? "not measured" : `${value.toFixed(digits)}${unit ? ` ${unit}` : ""}`);
  const target = options.target;
  const verdict: Verdict = !target || target.met === undefined ? (target ? "FAIL" : "n/a") : target.met ? "pass" : "FAIL";
  return { scenario, figure: name, value: value === null ? null : Number(value.toFixed(Math.max(digits, 3))), unit, shown, target: target?.text ?? "", verdict };
}

/** The table printed at the end: scenario, figure, value, target, pass/fail. */
export function formatTable(figures: readonly Figure[]): string {
  const header = ["scenario", "figure", "value", "target", "result"];
  const rows = figures.map((f) => [f.scenario, f.figure, f.shown, f.target || "—", f.target ? f.verdict : "—"]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** Writes `<dir>/<ISO timestamp with ':' as '-'>.json` and returns its path. */
export function writeResults(dir: string, startedAt: Date, data: unknown): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${startedAt.toISOString().replace(/:/g, "-")}.json`);
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
  return path;
}
