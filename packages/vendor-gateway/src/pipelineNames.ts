import type { KommoClient } from "@funnelsync/kommo-client";
import { Refreshing } from "./refreshing";

/** Renames are rare, and each look-up costs Kommo quota. */
const TTL_MS = 10 * 60 * 1000;

/** Pipeline and stage names for Loops event properties, read from Kommo once per TTL. */
export class PipelineNames {
  private readonly names: Refreshing<Map<string, string>>;

  constructor(kommo: KommoClient, now?: () => number) {
    this.names = new Refreshing(async () => {
      const names = new Map<string, string>();
      for (const pipeline of await kommo.getPipelines()) {
        names.set(`${pipeline.id}`, pipeline.name);
        for (const status of pipeline.statuses) names.set(`${pipeline.id}/${status.id}`, status.name);
      }
      return names;
    }, TTL_MS, now);
  }

  async stage(pipelineId: number, statusId: number): Promise<{ pipelineName: string; stageName: string }> {
    const names = await this.names.get();
    return {
      pipelineName: names.get(`${pipelineId}`) ?? String(pipelineId),
      stageName: names.get(`${pipelineId}/${statusId}`) ?? String(statusId),
    };
  }
}
