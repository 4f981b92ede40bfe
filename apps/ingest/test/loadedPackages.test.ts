import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";

const REPO_ROOT = resolve(__dirname, "../../..");
const HTTP_CLIENTS = ["axios", "axios-retry"];

/** Runs in a fresh node (through tsx, on the TypeScript sources) and prints the npm packages a module loads. */
const PROBE = `
require(process.argv[1]);
const packageOf = (path) => {
  const [scope, name] = path.split("node_modules/").pop().split("/");
  return scope.startsWith("@") ? scope + "/" + name : scope;
};
const loaded = Object.keys(require.cache).filter((path) => path.includes("node_modules/")).map(packageOf);
process.stdout.write(JSON.stringify([...new Set(loaded)]));
`;

async function packagesLoadedBy(specifier: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)(process.execPath, ["--conditions=@funnelsync/source", "--import", "tsx", "-e", PROBE, specifier], { cwd: REPO_ROOT });
  return JSON.parse(stdout) as string[];
}

describe("what loading ingest pulls in", () => {
  it("the ingest entry and the webhook subpaths of the clients load no HTTP client", async () => {
    const specifiers = ["@funnelsync/ingest", "@funnelsync/kommo-client/webhook", "@funnelsync/loops-client/webhook", "@funnelsync/moosend-client/webhook"];
    const loaded = await Promise.all(specifiers.map(packagesLoadedBy));
    expect(loaded[0]).toEqual(expect.arrayContaining(["express", "bullmq"]));
    expect(specifiers.map((specifier, i) => [specifier, loaded[i]!.filter((name) => HTTP_CLIENTS.includes(name))])).toEqual(specifiers.map((specifier) => [specifier, []]));
  });

  it("the probe sees an HTTP client where one is loaded: a client's main entry", async () => {
    expect(await packagesLoadedBy("@funnelsync/kommo-client")).toEqual(expect.arrayContaining(HTTP_CLIENTS));
  });
});
