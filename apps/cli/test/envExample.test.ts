import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { envSchema } from "@funnelsync/config";
import { REPO_ROOT } from "../../../test/harness";

/** Read only by the test suite (test/testEnv.ts); an operator never sets them. */
const TEST_ONLY = new Set(["TEST_DATABASE_URL", "TEST_REDIS_URL"]);

/** The keys `.env.example` sets (`KEY=value` lines, comments aside). */
function exampleKeys(): Set<string> {
  const text = readFileSync(join(REPO_ROOT, ".env.example"), "utf8");
  return new Set([...text.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === "node_modules" || name === "generated") return [];
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|cts|js|mjs|cjs)$/.test(name) ? [path] : [];
  });
}

const ENV_READ = /process\.env(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*["'`]([A-Za-z_][A-Za-z0-9_]*)["'`]\s*\])/g;

/** Every `process.env.X` / `process.env["X"]` in the given files, with the files that read it. */
function envReads(files: string[]): Map<string, string[]> {
  const reads = new Map<string, string[]>();
  for (const file of files) {
    for (const m of readFileSync(file, "utf8").matchAll(ENV_READ)) {
      const key = m[1] ?? m[2]!;
      reads.set(key, [...(reads.get(key) ?? []), relative(REPO_ROOT, file)]);
    }
  }
  return reads;
}

/** What ships: each app's and package's src (and a bin), not their tests. */
function shippedSources(): string[] {
  return ["apps", "packages"]
    .flatMap((top) => readdirSync(join(REPO_ROOT, top)).map((name) => join(REPO_ROOT, top, name)))
    .flatMap((dir) => ["src", "bin"].map((sub) => join(dir, sub)).filter((path) => statSync(path, { throwIfNoEntry: false })?.isDirectory()))
    .flatMap(sourceFiles);
}

describe(".env.example", () => {
  it("lists every variable the config schema reads", () => {
    const keys = exampleKeys();
    expect(Object.keys(envSchema.shape).filter((key) => !keys.has(key))).toEqual([]);
  });

  it("lists every variable the apps and packages read through process.env", () => {
    const keys = exampleKeys();
    const files = shippedSources();
    expect(files).toContainEqual(join(REPO_ROOT, "packages", "config", "src", "loadConfig.ts"));
    const missing = [...envReads(files)].filter(([key]) => !keys.has(key)).map(([key, where]) => `${key} (${where.join(", ")})`);
    expect(missing).toEqual([]);
  });

  it("leaves out only the test suite's own variables, which test/testEnv.ts reads", () => {
    const reads = envReads([join(REPO_ROOT, "test", "testEnv.ts")]);
    expect(new Set(reads.keys())).toEqual(TEST_ONLY);
    expect([...TEST_ONLY].filter((key) => exampleKeys().has(key))).toEqual([]);
  });

  it("sets nothing that neither the apps nor docker compose read", () => {
    const schemaKeys = new Set(Object.keys(envSchema.shape));
    const compose = readFileSync(join(REPO_ROOT, "docker-compose.yml"), "utf8");
    const unused = [...exampleKeys()].filter((key) => !schemaKeys.has(key) && !compose.includes(`\${${key}`));
    expect(unused).toEqual([]);
  });
});
