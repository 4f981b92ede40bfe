#!/usr/bin/env node
// Production build: each app's entry and our workspace packages bundled into one CommonJS file in
// dist/, dependencies left to node_modules. Running the bundle with plain `node` spares the process
// tsx's loader thread and on-the-fly compilation (about 50 MB of resident memory per process).
// `node scripts/build.mjs [ingest] [worker]` builds the named apps (all by default) in well under a second.
// Source maps are written beside the bundles but not enabled at run time: `--enable-source-maps`
// cost ingest a fifth of its throughput in the bench. NODE_OPTIONS=--enable-source-maps turns them on.
import { build } from "esbuild";

const APPS = { ingest: "apps/ingest/src/main.ts", worker: "apps/worker/src/main.ts" };
const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(APPS);

/** Third-party packages stay external; @funnelsync/* (TypeScript sources) are bundled. */
const dependenciesExternal = {
  name: "dependencies-external",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith("@funnelsync/") ? undefined : { path: args.path, external: true }));
  },
};

for (const app of wanted) {
  if (!APPS[app]) {
    console.error(`build: unknown app "${app}" (known: ${Object.keys(APPS).join(", ")})`);
    process.exit(2);
  }
  await build({
    entryPoints: [APPS[app]],
    outfile: `dist/${app}.cjs`,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    conditions: ["@funnelsync/source"],
    sourcemap: true,
    logLevel: "warning",
    plugins: [dependenciesExternal],
  });
}
