import { defineConfig } from "prisma/config";

// Read by the Prisma CLI (run it through `npm run prisma`, which works offline; see
// prisma/engine/prismaCli.mjs). The apps get their URL from @funnelsync/config instead.
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/funnelsync" },
});
