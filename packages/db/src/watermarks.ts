import type { PrismaClient } from "./generated/prisma/client";

/** Positions the worker resumes from, e.g. Moosend polling per list. */
export interface WatermarkRepository {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
}

export function createWatermarkRepository(prisma: PrismaClient): WatermarkRepository {
  return {
    async get(key) {
      const row = await prisma.watermark.findUnique({ where: { key } });
      return row?.value ?? null;
    },

    async set(key, value) {
      await prisma.watermark.upsert({ where: { key }, create: { key, value }, update: { value } });
    },
  };
}
