#!/usr/bin/env node
// Offline stand-in for Prisma's native `schema-engine` binary.
//
// Why: the Prisma CLI downloads that binary on first use, and this project must migrate with no
// network. @prisma/schema-engine-wasm (an npm package, installed with everything else) implements
// the same methods; this program speaks the CLI's protocol and forwards to it, reaching Postgres
// through @prisma/adapter-pg. prismaCli.mjs points PRISMA_SCHEMA_ENGINE_BINARY here.
//
// The protocol (details in /work/shared/notes/prisma-offline.md):
//   schemaEngine.mjs --datasource '{"url":…}' cli can-connect-to-database   exit 0 when reachable
//   schemaEngine.mjs --datasource '{"url":…}' cli create-database           prints {"result":"<db>"}
//   schemaEngine.mjs --datamodels <file>… --datasource '{"url":…}'          JSON-RPC 2.0 over stdio:
//     one request per stdin line, one response per stdout line, JSON log records on stderr.
//
// Where wasm and CLI disagree, this file bridges:
//   - method names: the CLI's getDatabaseVersion is the engine's `version`;
//   - `diff` returns its script, which the CLI expects as a `print` request before the response;
//   - adapter-pg cannot type Postgres' internal "char" (OID 18), which the engine's catalog queries
//     return (relkind, contype…), and the engine reads such columns only as Character;
//   - adapter-pg's own shadow database connects to the main database when given a connection
//     string (pg lets the string's database win over the `database` option), so we make our own.

import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import readline from "node:readline";
import { parseArgs } from "node:util";
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { ColumnTypeEnum, bindMigrationAwareSqlAdapterFactory } from "@prisma/driver-adapter-utils";
import * as wasmBindings from "@prisma/schema-engine-wasm/schema_engine_bg";

const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;
/** CLI method name -> engine method name, where they differ. */
const ENGINE_METHOD = { getDatabaseVersion: "version" };
/** The native engine's exit code for a panic; the CLI then offers to report it. */
const PANIC_EXIT_CODE = 101;
const WASM_PACKAGE_DIR = path.dirname(
  createRequire(import.meta.url).resolve("@prisma/schema-engine-wasm/schema_engine_bg"),
);

const { values: args, positionals } = parseArgs({
  strict: false, // the CLI may add --enabled-preview-features, --extension-types
  allowPositionals: true,
  options: { datamodels: { type: "string", multiple: true }, datasource: { type: "string" }, version: { type: "boolean" } },
});
const url = JSON.parse(String(args.datasource ?? "{}")).url ?? process.env.DATABASE_URL;

// ---------------------------------------------------------------------------------------------
// `cli` subcommands: one-shot, answered with plain pg (the wasm engine cannot create databases).

async function runCliCommand(command) {
  log("INFO", `schema engine shim: cli ${command}`); // the CLI skips the first stderr line
  const target = new URL(url);
  const database = decodeURIComponent(target.pathname.slice(1)) || "postgres";
  const server = `${target.hostname}:${target.port || 5432}`;
  try {
    if (command === "can-connect-to-database") {
      await withClient(url, (client) => client.query("SELECT 1"));
      return 0;
    }
    if (command === "create-database") {
      await withClient(withDatabase(url, "postgres"), async (client) => {
        try {
          await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
        } catch (err) {
          // Created meanwhile, e.g. by a parallel test run: 42P04, or 23505 when both raced.
          if (err.code !== "42P04" && err.code !== "23505") throw err;
        }
      });
      process.stdout.write(JSON.stringify({ result: database }) + "\n");
      return 0;
    }
    logError("P1000", `schema engine shim: unknown cli command "${command}"`);
  } catch (err) {
    // The native engine's codes; the CLI creates the database (migrate deploy/dev/reset) on P1003.
    const sqlState = /^[0-9A-Z]{5}$/.test(err.code ?? "") ? err.code : undefined;
    if (sqlState === "3D000") logError("P1003", `Database \`${database}\` does not exist on the database server at \`${server}\`.`);
    else if (sqlState === "28P01" || sqlState === "28000") logError("P1000", `Authentication failed against database server at \`${server}\`: ${err.message}`);
    else if (sqlState === "42501") logError("P1010", `User was denied access on the database \`${database}\`: ${err.message}`);
    else if (sqlState === undefined) logError("P1001", `Can't reach database server at \`${server}\`: ${err.message}`);
    else log("ERROR", `${err.message} (SQLSTATE ${sqlState})`);
  }
  return 1;
}

async function withClient(connectionString, fn) {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function withDatabase(connectionString, database) {
  const u = new URL(connectionString);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

// ---------------------------------------------------------------------------------------------
// JSON-RPC mode: one wasm engine for the life of the process, requests answered in order.
//
// Every request gets an answer, even after the engine died: if the engine exits with a request
// outstanding, the CLI hangs and then exits 0 without a word. The engine dies by a Rust panic
// (it reports the message, then traps) or by an error thrown outside any request's promise, e.g.
// when it cannot connect at start-up; both may surface as an uncaught exception. From then on
// each request is answered with that failure, and the process exits non-zero once stdin closes.

let panicMessage = null;
let failure = null; // { message, isPanic } once the engine is unusable
let reportFailure;
const failed = new Promise((_, reject) => (reportFailure = reject));
failed.catch(() => {}); // observed through untilFailure

function fail(err) {
  failure ??= { message: panicMessage ?? String(err?.message ?? err), isPanic: panicMessage !== null };
  log("ERROR", panicMessage ?? String(err?.stack ?? err));
  reportFailure(failure);
  return failure;
}

const untilFailure = (promise) => Promise.race([promise, failed]);

async function serveJsonRpc() {
  globalThis.PRISMA_WASM_PANIC_REGISTRY = { set_message: (message) => (panicMessage = message) };
  process.on("uncaughtException", fail);

  const engine = untilFailure(startEngine());
  engine.catch(() => {}); // answered per request
  let queue = Promise.resolve();
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on("line", (line) => {
    if (line.trim() !== "") queue = queue.then(() => answer(engine, line));
  });
  await new Promise((resolve) => lines.once("close", resolve));
  await queue;
  // Exit explicitly: the adapter's pools would otherwise hold the process until their idle timeout.
  process.exit(failure === null ? 0 : failure.isPanic ? PANIC_EXIT_CODE : 1);
}

async function answer(engine, line) {
  let message;
  try {
    message = JSON.parse(line);
  } catch {
    return respond({ id: null, error: { code: -32700, message: "Parse error", data: { message: `schema engine shim: not JSON: ${line.slice(0, 200)}` } } });
  }
  if (message.method === undefined) return; // the CLI's acknowledgement of our `print`
  const { id, method, params } = message;
  const engineMethod = ENGINE_METHOD[method] ?? method;
  if (!Object.hasOwn(wasmBindings.SchemaEngine.prototype, engineMethod) || engineMethod === "free") {
    return respond({ id, error: { code: -32601, message: `Method not found: ${method}`, data: { message: `schema engine shim: no method ${method}` } } });
  }
  try {
    const ready = await engine;
    const result = await untilFailure(ready[engineMethod](params ?? {}));
    if (method === "diff" && typeof result?.stdout === "string") {
      process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id: `print-${id}`, method: "print", params: { content: result.stdout } }) + "\n");
    }
    respond({ id, result: result ?? null });
  } catch (err) {
    // A panic inside a synchronous call (debugPanic) throws right here rather than uncaught.
    respond({ id, error: toRpcError(failure ?? (panicMessage === null ? err : fail(err))) });
  }
}

function respond(message) {
  process.stdout.write(JSON.stringify({ jsonrpc: "2.0", ...message }) + "\n");
}

/** The engine rejects with an Error carrying the native engine's user-facing code (P3005…), if any. */
function toRpcError(err) {
  const errorCode = err?.code ?? err?.error_code;
  const message = String(err?.message ?? err);
  return {
    code: 4466,
    message, // the CLI shows this one for panics, data.message otherwise
    data: {
      is_panic: err?.isPanic === true,
      message,
      ...(typeof errorCode === "string" && /^P\d{4}$/.test(errorCode) ? { error_code: errorCode } : {}),
      ...(err?.meta ? { meta: err.meta } : {}),
    },
  };
}

async function startEngine() {
  // The package entry imports the .wasm as an ES module, which Node refuses; instantiate it here.
  const bytes = await readFile(path.join(WASM_PACKAGE_DIR, "schema_engine_bg.wasm"));
  const { instance } = await WebAssembly.instantiate(bytes, { "./schema_engine_bg.js": wasmBindings });
  wasmBindings.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start();

  // Commands such as `migrate diff` pass no schema, but the engine will not start without one.
  const files = (args.datamodels ?? []).map(String);
  const datamodels = files.length > 0
    ? await Promise.all(files.map(async (file) => [file, await readFile(file, "utf8")]))
    : [["schema.prisma", 'datasource db {\n  provider = "postgresql"\n}\n']];
  const adapterFactory = bindMigrationAwareSqlAdapterFactory(engineAdapterFactory(url));
  const forwardLog = (record) => process.stderr.write((typeof record === "string" ? record : JSON.stringify(record)) + "\n");
  return wasmBindings.SchemaEngine.new({ datamodels }, forwardLog, adapterFactory);
}

// ---------------------------------------------------------------------------------------------
// adapter-pg, patched for the engine.

function engineAdapterFactory(connectionString) {
  const factory = new PrismaPg({ connectionString });
  const connect = factory.connect.bind(factory);
  factory.connect = async () => withCharColumns(await connect());
  factory.connectToShadowDb = async () => {
    const database = `prisma_migrate_shadow_db_${globalThis.crypto.randomUUID()}`;
    await withClient(connectionString, (client) => client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`));
    const shadow = withCharColumns(await new PrismaPg({ connectionString: withDatabase(connectionString, database) }).connect());
    const dispose = shadow.dispose.bind(shadow);
    shadow.dispose = async () => {
      await dispose();
      await withClient(connectionString, (client) => client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)}`));
    };
    return shadow;
  };
  return factory;
}

/**
 * Lets `queryable` (the adapter, or a transaction of it) return "char" columns typed Character.
 * adapter-pg types columns from the pg result's field OIDs and throws on OID 18; each query sees
 * those fields as text, and the columns are retyped afterwards. Relies on adapter-pg's queryRaw
 * reading the result through `this.performIO`.
 */
function withCharColumns(queryable) {
  const { queryRaw, startTransaction } = queryable;
  queryable.queryRaw = async (query) => {
    const charColumns = [];
    const performIO = async (q) => {
      const result = await queryable.performIO(q);
      result.fields.forEach((field, i) => {
        if (field.dataTypeID !== PG_CHAR_OID) return;
        field.dataTypeID = PG_TEXT_OID;
        charColumns.push(i);
      });
      return result;
    };
    const result = await queryRaw.call(Object.create(queryable, { performIO: { value: performIO } }), query);
    for (const i of charColumns) result.columnTypes[i] = ColumnTypeEnum.Character;
    return result;
  };
  if (startTransaction) queryable.startTransaction = async (...a) => withCharColumns(await startTransaction.apply(queryable, a));
  return queryable;
}

// ---------------------------------------------------------------------------------------------

function log(level, message) {
  process.stderr.write(JSON.stringify({ level, target: "schema_engine", fields: { message } }) + "\n");
}

function logError(errorCode, message) {
  process.stderr.write(
    JSON.stringify({ level: "ERROR", target: "schema_engine::logger", fields: { error_code: errorCode, message } }) + "\n",
  );
}

if (args.version) {
  // `prisma version` shows this; the native engine prints its commit the same way.
  const { version } = JSON.parse(await readFile(path.join(WASM_PACKAGE_DIR, "package.json"), "utf8"));
  console.log(`schema-engine-cli ${version.split(".").at(-1)} (wasm)`);
} else if (positionals[0] === "cli") {
  process.exitCode = await runCliCommand(String(positionals[1]));
} else {
  await serveJsonRpc();
}
