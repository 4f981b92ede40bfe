# syntax=docker/dockerfile:1
# Build: install production dependencies only (the postinstall step generates the Prisma client),
# then bundle ingest and worker into dist/ (esbuild; dependencies stay in node_modules).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci --omit=dev --no-audit --no-fund && npm run build && npm cache clean --force

# Run: the same tree, as the unprivileged `node` user. `npm run start:*` runs the bundles with plain
# node (its prestart step rebuilds them from the sources in a second, so they never go stale).
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app /app
USER node
EXPOSE 3000 3001
CMD ["npm", "run", "start:worker"]
