# syntax=docker/dockerfile:1
# The scheduled backup (compose's `backups` service, the Kubernetes CronJob): node runs tools/backup/scheduled-cli.ts
# with redis-cli, redis-check-rdb, pg_dump and age. Build from the repository root:
#   docker build -f infra/docker/backup.Dockerfile .
# The Redis tools are the server's own version (an RDB is read only by a Redis at least as new as its writer:
# Debian 12's redis-tools 7.0 cannot check a 7.4 RDB); pg_dump is PostgreSQL 15's, as the server.

ARG NODE_VERSION=24.21.0
ARG REDIS_VERSION=7.4

FROM redis:${REDIS_VERSION}-bookworm AS redis

FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM node:${NODE_VERSION}-bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends age postgresql-client-15 libssl3 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=redis /usr/local/bin/redis-server /usr/local/bin/redis-cli /usr/local/bin/
# redis-server acts as redis-check-rdb under that name, as in the official image.
RUN ln -s redis-server /usr/local/bin/redis-check-rdb
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY tools/backup/ ./tools/backup/
COPY tools/lib/ ./tools/lib/
# The snapshots' volume: a new named volume takes this directory's owner, so the job (not root) can write it.
RUN mkdir /backups && chown node:node /backups
USER node
CMD ["node", "tools/backup/scheduled-cli.ts", "loop"]
