import { runCli } from "./cli";

// `npx funnelsync …` (bin/funnelsync.js) and `npm run cli -- …`.
void runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Everything is closed by now; should a stray handle linger, it must not keep an operator waiting.
  setTimeout(() => process.exit(code), 1_000).unref();
});
