import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ConfigError, loadConfig } from "@funnelsync/config";

const REPO = resolve(__dirname, "../../..");
const CONTRACT = resolve(REPO, "../shared/notes/contract.md");

function mappingFile(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "funnelsync-config-"));
  const path = join(dir, "funnelsync.yaml");
  writeFileSync(path, yaml);
  return path;
}

function contractExample(): string {
  const source = existsSync(CONTRACT) ? readFileSync(CONTRACT, "utf8") : "```yaml\n" + readFileSync(resolve(REPO, "funnelsync.yaml"), "utf8") + "```";
  return /```yaml\n([\s\S]*?)```/.exec(source)![1]!;
}

const live = {
  KOMMO_BASE_URL: "https://acme.kommo.com",
  KOMMO_ACCESS_TOKEN: "kommo-token-123456",
  KOMMO_WEBHOOK_SECRET: "0123456789abcdef0123",
  MOOSEND_API_KEY: "moosend-key-abcdef",
  MOOSEND_WEBHOOK_SECRET: "fedcba9876543210fedc",
  LOOPS_API_KEY: "loops-key-abcdef",
  LOOPS_WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
};

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("loads the mapping example from the contract unchanged, with its stages and fields", () => {
    const config = loadConfig({ env: { ...live, FUNNELSYNC_CONFIG: mappingFile(contractExample()) } });
    expect(config.mapping.stage(5001, 6001)?.moosend?.listId).toBe("0b6f5a1e-0000-4000-8000-000000000001");
    expect(config.mapping.stage(5001, 142)?.loops).toEqual({ event: "deal_won", transactionalId: "cm_welcome_01", userGroup: "customer" });
    expect(config.mapping.stage(5001, 143)?.moosend).toBeUndefined();
    expect(config.mapping.stage(9999, 142)).toBeUndefined();
    expect(config.mapping.fields.map((f) => f.moosend)).toEqual(["Company", "Budget"]);
    expect(config.mapping.moosendListIds()).toHaveLength(3);
    expect(config.kommo.mode).toBe("live");
  });

  it("keeps the repository's funnelsync.yaml identical to the contract's example", () => {
    expect(readFileSync(resolve(REPO, "funnelsync.yaml"), "utf8").trim()).toBe(contractExample().trim());
  });

  it("applies the contract's defaults", () => {
    const config = loadConfig({ env: { FUNNELSYNC_CONFIG: mappingFile(contractExample()) }, allowSimulators: true });
    expect(config).toMatchObject({
      databaseUrl: "postgresql://postgres@127.0.0.1:5432/funnelsync",
      redisUrl: "redis://127.0.0.1:6379",
      port: 3000,
      adminPort: 3001,
      logLevel: "info",
      moosend: { pollSeconds: 300, mode: "simulator" },
      kommo: { mode: "simulator" },
      loops: { mode: "simulator" },
    });
  });

  it("reads the reconciler's period, the webhook self-repair switch and the public origin, each validated", () => {
    const mapping = mappingFile(contractExample());
    const defaults = loadConfig({ env: { ...live, FUNNELSYNC_CONFIG: mapping } });
    expect(defaults).toMatchObject({ kommo: { reconcileSeconds: 300, manageWebhook: false }, publicUrl: undefined });
    const set = loadConfig({ env: { ...live, FUNNELSYNC_CONFIG: mapping, KOMMO_RECONCILE_SECONDS: "0", KOMMO_MANAGE_WEBHOOK: "true", PUBLIC_URL: "https://sync.example.com/" } });
    expect(set).toMatchObject({ kommo: { reconcileSeconds: 0, manageWebhook: true }, publicUrl: "https://sync.example.com" });
    expect(errorOf(() => loadConfig({ env: { ...live, FUNNELSYNC_CONFIG: mapping, KOMMO_RECONCILE_SECONDS: "-5" } })).message).toMatch(/^config: KOMMO_RECONCILE_SECONDS /);
    expect(errorOf(() => loadConfig({ env: { ...live, FUNNELSYNC_CONFIG: mapping, KOMMO_MANAGE_WEBHOOK: "sometimes" } })).message).toBe('config: KOMMO_MANAGE_WEBHOOK must be true or false (got "sometimes")');
    expect(errorOf(() => loadConfig({ env: { ...live, FUNNELSYNC_CONFIG: mapping, PUBLIC_URL: "https://sync.example.com/hooks" } })).message).toContain("PUBLIC_URL must be an origin");
    expect(errorOf(() => loadConfig({ env: { ...live, FUNNELSYNC_CONFIG: mapping, KOMMO_MANAGE_WEBHOOK: "true" } })).message).toBe("config: PUBLIC_URL is required when KOMMO_MANAGE_WEBHOOK is true");
  });

  it("stops with one line naming a missing credential outside the embedded default", () => {
    const err = errorOf(() => loadConfig({ env: { FUNNELSYNC_CONFIG: mappingFile(contractExample()) } }));
    expect(err.message).toBe("config: KOMMO_ACCESS_TOKEN is required (or run `npm start` to use the local simulators)");
  });

  it("names a bad URL and shows the value it got; plain http only on this machine", () => {
    const err = errorOf(() => loadConfig({ env: { ...live, KOMMO_BASE_URL: "acme.kommo.com", FUNNELSYNC_CONFIG: mappingFile(contractExample()) } }));
    expect(err.message).toBe('config: KOMMO_BASE_URL must be an https URL (got "acme.kommo.com")');
    const plain = errorOf(() => loadConfig({ env: { ...live, KOMMO_BASE_URL: "http://acme.kommo.com", FUNNELSYNC_CONFIG: mappingFile(contractExample()) } }));
    expect(plain.message).toContain("must be an https URL");
    const local = loadConfig({ env: { ...live, KOMMO_BASE_URL: "http://127.0.0.1:4010", FUNNELSYNC_CONFIG: mappingFile(contractExample()) } });
    expect(local.kommo.baseUrl).toBe("http://127.0.0.1:4010");
  });

  it("never shows a secret's value in its message", () => {
    const err = errorOf(() => loadConfig({ env: { ...live, LOOPS_WEBHOOK_SECRET: "not-a-whsec-value", FUNNELSYNC_CONFIG: mappingFile(contractExample()) } }));
    expect(err.message).toBe("config: LOOPS_WEBHOOK_SECRET must be a whsec_… secret");
    expect(err.message).not.toContain("not-a-whsec-value");
  });

  it("names the path inside a broken mapping file in one line", () => {
    const broken = contractExample().replace("statusId: 6002", 'statusId: "nurture"');
    const path = mappingFile(broken);
    const err = errorOf(() => loadConfig({ env: { ...live, FUNNELSYNC_CONFIG: path } }));
    expect(err.message).toMatch(new RegExp(`^config: ${path} pipelines\\.0\\.stages\\.1\\.statusId `));
    expect(err.message).not.toContain("\n");
  });

  it("rejects a stage listed twice and a list id that is not a GUID", () => {
    const twice = contractExample().replace("statusId: 6002", "statusId: 6001");
    expect(errorOf(() => loadConfig({ env: { ...live, FUNNELSYNC_CONFIG: mappingFile(twice) } })).message).toContain("status 6001 is listed twice");
    const badList = contractExample().replace("0b6f5a1e-0000-4000-8000-000000000002", "nurture-list");
    expect(errorOf(() => loadConfig({ env: { ...live, FUNNELSYNC_CONFIG: mappingFile(badList) } })).message).toContain("stages.1.moosend.listId");
  });

  it("takes removeOnExit per list, off by default, and rejects stages that share a list but disagree on it", () => {
    const exit = (yaml: string) => yaml.replace("000000000001 }", "000000000001, removeOnExit: true }");
    const config = loadConfig({ env: { ...live, FUNNELSYNC_CONFIG: mappingFile(exit(contractExample())) } });
    expect(config.mapping.moosendListsLeftOnExit()).toEqual(["0b6f5a1e-0000-4000-8000-000000000001"]);
    expect(config.mapping.stage(5001, 6002)?.moosend).toEqual({ listId: "0b6f5a1e-0000-4000-8000-000000000002", removeOnExit: false });
    const shared = exit(contractExample()).replace("0b6f5a1e-0000-4000-8000-000000000002", "0b6f5a1e-0000-4000-8000-000000000001");
    expect(errorOf(() => loadConfig({ env: { ...live, FUNNELSYNC_CONFIG: mappingFile(shared) } })).message).toContain(
      "list 0b6f5a1e-0000-4000-8000-000000000001 is named by several stages; removeOnExit must be the same on each",
    );
  });

  it("defaults loops.userId to kommoContact and kommo.emailPreference to WORK, PRIV, OTHER, and takes the operator's choice", () => {
    const defaults = loadConfig({ env: { ...live, FUNNELSYNC_CONFIG: mappingFile(contractExample()) } }).mapping;
    expect(defaults.loops.userId).toBe("kommoContact");
    expect(defaults.kommo.emailPreference).toEqual(["WORK", "PRIV", "OTHER"]);
    const chosen = contractExample()
      .replace("loops:\n  onLeadAdded", "loops:\n  userId: none\n  onLeadAdded")
      .replace("taskOnHardBounce: true", "taskOnHardBounce: true\n  emailPreference: [priv, WORK]");
    const mapping = loadConfig({ env: { ...live, FUNNELSYNC_CONFIG: mappingFile(chosen) } }).mapping;
    expect(mapping.loops.userId).toBe("none");
    expect(mapping.kommo.emailPreference).toEqual(["PRIV", "WORK"]);
    const wrong = contractExample().replace("loops:\n  onLeadAdded", "loops:\n  userId: email\n  onLeadAdded");
    expect(errorOf(() => loadConfig({ env: { ...live, FUNNELSYNC_CONFIG: mappingFile(wrong) } })).message).toContain("loops.userId");
  });

  it("says which file cannot be read", () => {
    const err = errorOf(() => loadConfig({ env: { ...live, FUNNELSYNC_CONFIG: "/nonexistent/funnelsync.yaml" } }));
    expect(err.message).toBe("config: FUNNELSYNC_CONFIG cannot be read (ENOENT: /nonexistent/funnelsync.yaml)");
  });

  it("keeps rows RETENTION_DAYS (90 by default) and takes FUNNELSYNC_HASH_KEY as a secret of 32+ characters", () => {
    const env = { ...live, FUNNELSYNC_CONFIG: mappingFile(contractExample()) };
    expect(loadConfig({ env })).toMatchObject({ retentionDays: 90, hashKey: undefined });
    const key = "a".repeat(64);
    const config = loadConfig({ env: { ...env, RETENTION_DAYS: "30", FUNNELSYNC_HASH_KEY: key } });
    expect(config).toMatchObject({ retentionDays: 30, hashKey: key });
    expect(config.secrets).toContain(key);
    expect(errorOf(() => loadConfig({ env: { ...env, RETENTION_DAYS: "-1" } })).message).toBe('config: RETENTION_DAYS must be 0 or more days (got "-1")');
    const short = errorOf(() => loadConfig({ env: { ...env, FUNNELSYNC_HASH_KEY: "short-key" } }));
    expect(short.message).toBe("config: FUNNELSYNC_HASH_KEY must be at least 32 characters (e.g. `openssl rand -hex 32`)");
  });

  it("collects every secret so the logger can scrub it", () => {
    const config = loadConfig({ env: { ...live, ADMIN_PASSWORD: "correct-horse-battery", FUNNELSYNC_CONFIG: mappingFile(contractExample()) } });
    expect(config.secrets).toEqual(expect.arrayContaining(["kommo-token-123456", "moosend-key-abcdef", "correct-horse-battery", live.LOOPS_WEBHOOK_SECRET]));
  });
});
