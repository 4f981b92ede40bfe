/** @jest-config-loader esbuild-register */
import type { Config } from "jest";

// Tests run the TypeScript sources directly (the `@funnelsync/source` export condition) against the
// local Postgres and Redis; globalSetup migrates a dedicated test database once per run.
const config: Config = {
  testEnvironment: "node",
  testEnvironmentOptions: { customExportConditions: ["@funnelsync/source", "node", "require", "default"] },
  transform: { "^.+\\.(t|j)sx?$": ["@swc/jest", { jsc: { target: "es2022" } }] },
  testMatch: ["<rootDir>/{apps,packages}/*/test/**/*.test.ts", "<rootDir>/test/**/*.test.ts"],
  globalSetup: "<rootDir>/test/globalSetup.ts",
  testSequencer: "<rootDir>/test/fault/runLast.cjs",
  testTimeout: 30_000,
  maxWorkers: 2,
};

export default config;
