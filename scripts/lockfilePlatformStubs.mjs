#!/usr/bin/env node
// Our package mirror lacks some platform builds of optional native packages (darwin, win32, arm…
// variants of @swc/core, msgpackr-extract, unrs-resolver). `npm install` then leaves them out of
// package-lock.json, and `npm ci` refuses the lock as "out of sync". This adds a lock entry for each
// missing optional package with its os/cpu, so `npm ci` knows it and skips it on this platform,
// exactly as it would with a complete lock. Run it after `npm install` changes the lock.
import { readFileSync, writeFileSync } from "node:fs";

const LOCK = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(LOCK, "utf8"));
const packages = lock.packages;

const OS = ["darwin", "win32", "linux", "freebsd", "android", "openharmony", "openbsd", "netbsd", "sunos", "aix"];
const CPU = { arm64: "arm64", x64: "x64", ia32: "ia32", arm: "arm", ppc64: "ppc64", s390x: "s390x", riscv64: "riscv64", loong64: "loong64" };

function platformOf(name) {
  const parts = name.split("/").pop().split("-");
  const os = parts.find((p) => OS.includes(p));
  const cpu = parts.map((p) => CPU[p]).find(Boolean);
  const libc = parts.find((p) => p === "musl" || p === "gnu" || p.startsWith("gnueabi") || p.startsWith("musleabi"));
  if (!os || !cpu) return undefined;
  const platform = { os: [os === "openharmony" ? "openharmony" : os], cpu: [cpu] };
  if (os === "linux" && libc) platform.libc = [libc.startsWith("musl") ? "musl" : "glibc"];
  return platform;
}

let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const base = path === "" ? "" : `${path}/`;
    const nested = `${base}node_modules/${dep}`;
    if (packages[nested] || packages[`node_modules/${dep}`]) continue;
    const platform = platformOf(dep);
    if (!platform) continue;
    packages[`node_modules/${dep}`] = { version, ...platform, optional: true, ...(entry.dev ? { dev: true } : {}) };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))));
writeFileSync(LOCK, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lockfile: added ${added} platform stub entr${added === 1 ? "y" : "ies"}`);
