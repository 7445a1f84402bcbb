# syntax=docker/dockerfile:1
# cf-ai-connector: one image for the receiver (`serve`), the workers (`work`) or both (`start`).

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim AS runtime
# tini: a real init as PID 1 (signals forwarded, zombies reaped).
# jemalloc: sharp/libvips fragments glibc malloc and RSS never shrinks; jemalloc keeps it flat.
# MALLOC_CONF: jemalloc returns freed pages at once, so the memory a conversion freed is not still
# resident while the result gate reads its output (docs/performance.md, "Memory on large inputs").
# MALLOC_ARENA_MAX bounds glibc's arenas should the preload ever be missing.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini libjemalloc2 \
 && ln -s "$(find /usr/lib -name libjemalloc.so.2 | head -n 1)" /usr/local/lib/libjemalloc.so.2 \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    LD_PRELOAD=/usr/local/lib/libjemalloc.so.2 \
    MALLOC_CONF=dirty_decay_ms:0,muzzy_decay_ms:0 \
    MALLOC_ARENA_MAX=2 \
    HOST=0.0.0.0 \
    PORT=8080 \
    WORK_DIR=/work
# WORK_DIR belongs to node: a volume mounted there (docker-compose.yml) starts with its owner.
RUN install -d -o node -g node /work
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/cli.js"]
CMD ["start"]
