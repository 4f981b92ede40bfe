// Runs the Prisma CLI offline: `node prisma/engine/prismaCli.mjs <prisma args…>`.
//
// The CLI would download its native schema engine; PRISMA_SCHEMA_ENGINE_BINARY points it at our
// wasm-backed stand-in (schemaEngine.mjs) instead. `migrate deploy`, `migrate dev` and
// `migrate reset` create a missing database themselves, through that program's
// `cli create-database`. The exit code is the CLI's.

import { spawn } from "node:child_process";
import { accessSync, chmodSync, constants } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../..");
const prismaCli = createRequire(import.meta.url).resolve("prisma/build/index.js");
const schemaEngine = path.join(here, "schemaEngine.mjs");

// The CLI executes the engine directly; a checkout that lost the exec bit (an archive, some
// Windows tools) would fail with EACCES.
try {
  accessSync(schemaEngine, constants.X_OK);
} catch {
  chmodSync(schemaEngine, 0o755);
}

const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? schemaEngine,
  // Both would otherwise try the network: the update check and usage telemetry.
  PRISMA_HIDE_UPDATE_MESSAGE: "1",
  CHECKPOINT_DISABLE: "1",
  // The contract's default, also in prisma.config.ts; set here so the engine sees the same URL.
  DATABASE_URL: process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/funnelsync",
};

const child = spawn(process.execPath, [prismaCli, ...process.argv.slice(2)], { cwd: repoRoot, env, stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0);
});
