import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";

const REPO_ROOT = resolve(__dirname, "..");

/**
 * Runs in a fresh node (through tsx, on the TypeScript sources) and prints what requiring a module
 * loaded: npm packages by name, our own workspaces as `apps/<name>` or `packages/<name>`.
 */
const PROBE = `
require(process.argv[1]);
const root = process.cwd() + "/";
const nameOf = (path) => {
  if (path.includes("node_modules/")) {
    const [scope, name] = path.split("node_modules/").pop().split("/");
    return scope.startsWith("@") ? scope + "/" + name : scope;
  }
  return path.startsWith(root) ? path.slice(root.length).split("/").slice(0, 2).join("/") : undefined;
};
process.stdout.write(JSON.stringify([...new Set(Object.keys(require.cache).map(nameOf).filter(Boolean))]));
`;

/** The npm packages and workspaces that `require(specifier)` loads in a fresh process. */
export async function modulesLoadedBy(specifier: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)(process.execPath, ["--conditions=@funnelsync/source", "--import", "tsx", "-e", PROBE, specifier], { cwd: REPO_ROOT });
  return JSON.parse(stdout) as string[];
}
