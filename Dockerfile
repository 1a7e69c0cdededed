# syntax=docker/dockerfile:1
#
# Danmaku server: one image for every role. Standalone by default (gateway and logic roles with
# the in-memory bus and store, in one process); ROLE=gateway or ROLE=logic with NATS_URL and
# REDIS_URL for cluster mode (deploy/kubernetes/, deploy/compose/). WebSockets on PORT (9001),
# Prometheus /metrics and the probes /livez and /readyz on METRICS_PORT (9100). The admin API
# (ADMIN_PORT, 9102) only with an ADMIN_SECRET, and on the container's loopback unless
# ADMIN_HOST=0.0.0.0 (then publish -p 127.0.0.1:9102:9102, never to the public).
#
#   docker build -t danmaku-server \
#     --build-arg VERSION="$(node -p 'require("./package.json").version')" \
#     --build-arg REVISION="$(git rev-parse HEAD)" --build-arg SOURCE=<your repository URL> .
#   docker run --rm -p 9001:9001 -p 9100:9100 -e TOKEN_SECRET="$(openssl rand -hex 32)" danmaku-server
#
# TOKEN_SECRET is required: the image sets NODE_ENV=production, and in production the server
# refuses to start (exit code 2, "configuration error") while TOKEN_SECRET is unset or is the
# public development secret. Give it a secret of its own, at least 16 characters, at run time
# (-e, --env-file, or your orchestrator's secrets); never bake it into the image. Clients'
# tokens must be signed with the same secret. Any variable can also come from a file:
# TOKEN_SECRET_FILE=/run/secrets/token-secret (README, Configuration).
#
# Node 22 LTS (maintained until 2027-04-30), pinned to one exact release in both stages: the
# WebSocket server (uws-pack 20.0.8) ships native binaries for Node 18, 20, 21 and 22 only
# (ABIs 108, 115, 120, 127), so Node 24 cannot load it; Node 20 is out of support. Move both
# FROM lines together (test/unit/deploy-image.test.ts checks they name one 22.x.y). For
# byte-for-byte rebuilds pin the digest too (node:22.x.y-bookworm-slim@sha256:...).

# ---- build: all dependencies, compile TypeScript into dist/ --------------------------------
FROM node:22.23.3-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# tsconfig.json compiles src/, test/ and bench/; .dockerignore keeps node_modules, dist and
# bench results out of the context.
COPY . .
RUN npm run build

# ---- runtime: production dependencies and the compiled server only -------------------------
FROM node:22.23.3-bookworm-slim AS runtime
# OCI annotations (https://github.com/opencontainers/image-spec/blob/main/annotations.md).
# VERSION defaults to package.json's (the image test keeps them equal); REVISION and SOURCE
# are the commit and repository URL the image was built from, given at build time.
ARG VERSION=0.1.0
ARG REVISION=""
ARG SOURCE=""
LABEL org.opencontainers.image.title="danmaku-server" \
      org.opencontainers.image.description="Live-room interaction and danmaku broadcast server on uWebSockets.js: one image, ROLE=gateway, logic or standalone" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="docker.io/library/node:22.23.3-bookworm-slim"
ENV NODE_ENV=production
WORKDIR /app
# uWebSockets.js (uws-pack) ships prebuilt glibc binaries and msgpackr-extract has prebuilt
# optional packages, so no compiler is needed. uws-pack carries binaries for every platform and
# Node ABI (~135 MB); keep only the one this image's node loads (~7 MB), and fail if it is missing.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force \
 && keep="uws_$(node -p 'process.platform + "_" + process.arch + "_" + process.versions.modules').node" \
 && find node_modules/uWebSockets.js/dist/bin -name 'uws_*.node' ! -name "$keep" -delete \
 && test -f "node_modules/uWebSockets.js/dist/bin/$keep"
COPY --from=build /app/dist/src ./dist/src
# The browser SDK bundles and the demo page (src/gateway/web.ts serves them on PORT).
COPY --from=build /app/dist/web ./dist/web

# The code stays owned by root (read-only for the server); the server writes nothing to disk.
USER node

EXPOSE 9001 9100

# Liveness from /livez on the metrics port (/readyz is for load balancers: it turns 503 during
# a drain or a dependency's outage, which is no reason to restart). Assumes the default HOST
# (0.0.0.0) or a loopback HOST; follows METRICS_PORT if it is overridden.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "require('node:http').get('http://127.0.0.1:' + (process.env.METRICS_PORT || 9100) + '/livez', (r) => { r.resume(); process.exit(r.statusCode === 200 ? 0 : 1); }).on('error', () => process.exit(1)).setTimeout(2000, () => process.exit(1))"]

# node is PID 1 and handles SIGTERM itself. Standalone (the default here) it closes clients
# with 1012 and exits within SHUTDOWN_TIMEOUT_MS (5 s) + 3 s, inside docker stop's default 10 s.
# A cluster gateway first drains (docs/cluster.md, "Draining a gateway"): not ready for
# DRAIN_NOT_READY_MS (5 s), then its clients moved over DRAIN_WINDOW_MS (30 s), then
# SHUTDOWN_TIMEOUT_MS, plus up to 3 s of hard-stop margin: give a cluster gateway 45 s (docker
# stop -t 45, compose stop_grace_period: 45s, Kubernetes terminationGracePeriodSeconds: 45; the
# manifests in deploy/ do), or shorten the windows; cut short, the clients not yet moved drop
# all at once.
# Standalone by default; set NATS_URL, REDIS_URL and ROLE (gateway, logic) for cluster mode
# (docs/cluster.md). The admin API stays disabled until ADMIN_SECRET is set.
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/main.js"]
