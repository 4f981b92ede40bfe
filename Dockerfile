# syntax=docker/dockerfile:1
# Build: install production dependencies only (the postinstall step generates the Prisma client).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Run: the same tree, as the unprivileged `node` user. TypeScript runs through tsx; there is no build step.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app /app
USER node
EXPOSE 3000 3001
CMD ["npm", "run", "start:worker"]
