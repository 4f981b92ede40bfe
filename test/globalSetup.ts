import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { TEST_DATABASE_URL } from "./testEnv";

/**
 * Creates the test database if needed and applies the migrations, once per jest run, through the
 * same offline CLI as `npm run migrate` (so every test run also proves the schema-engine shim).
 * About 1.5 s when there is nothing to apply.
 */
export default async function globalSetup(): Promise<void> {
  const cli = path.join(__dirname, "..", "prisma", "engine", "prismaCli.mjs");
  try {
    await promisify(execFile)(process.execPath, [cli, "migrate", "deploy"], {
      env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL },
      timeout: 60_000,
    });
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`globalSetup: migrating the test database failed\n${stdout ?? ""}${stderr ?? ""}`, { cause: err });
  }
}
