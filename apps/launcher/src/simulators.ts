import { randomBytes } from "node:crypto";
import type { Config } from "@funnelsync/config";
import type { ShutdownStep } from "@funnelsync/jobs";
import { startKommoSimulator, startLoopsSimulator, startMoosendSimulator } from "@funnelsync/simulators";

export type Sims = Partial<{
  kommo: Awaited<ReturnType<typeof startKommoSimulator>>;
  moosend: Awaited<ReturnType<typeof startMoosendSimulator>>;
  loops: Awaited<ReturnType<typeof startLoopsSimulator>>;
}>;

/** Starts a simulator for every vendor without credentials and points the config at it. */
export async function startSimulators(config: Config, ingestUrl: string, notes: string[], shutdown: ShutdownStep[]): Promise<Sims> {
  const sims: Sims = {};
  if (config.kommo.mode === "simulator") {
    const accessToken = randomBytes(16).toString("hex");
    const sim = await startKommoSimulator({ accessToken });
    sims.kommo = sim;
    config.kommo.baseUrl = sim.url;
    config.kommo.accessToken = accessToken;
    notes.push("Kommo");
  }
  if (config.moosend.mode === "simulator") {
    const apiKey = randomBytes(16).toString("hex");
    const sim = await startMoosendSimulator({ apiKey, webhook: { url: `${ingestUrl}/webhooks/moosend/${config.moosend.webhookSecret}` } });
    sims.moosend = sim;
    config.moosend.baseUrl = `${sim.url}/v3`;
    config.moosend.apiKey = apiKey;
    notes.push("Moosend");
  }
  if (config.loops.mode === "simulator") {
    const apiKey = randomBytes(16).toString("hex");
    const sim = await startLoopsSimulator({ apiKey, webhookSecret: config.loops.webhookSecret, webhookUrl: `${ingestUrl}/webhooks/loops` });
    sims.loops = sim;
    config.loops.baseUrl = `${sim.url}/api/v1`;
    config.loops.apiKey = apiKey;
    notes.push("Loops");
  }
  for (const [name, sim] of Object.entries(sims)) shutdown.push({ name: `${name} simulator`, close: () => sim.close() });
  return sims;
}
