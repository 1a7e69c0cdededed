# syntax=docker/dockerfile:1
#
# Danmaku server, standalone mode: gateway and logic roles with the in-memory bus and store,
# in one Node 20 process. WebSockets on PORT (9001), Prometheus /metrics and the probes
# /livez and /readyz on METRICS_PORT (9100). The admin API (ADMIN_PORT, 9102) only with an
# ADMIN_SECRET, and on the container's loopback unless ADMIN_HOST=0.0.0.0 (then publish
# -p 127.0.0.1:9102:9102, never to the public).
#
#   docker build -t danmaku-server .
#   docker run --rm -p 9001:9001 -p 9100:9100 -e TOKEN_SECRET="$(openssl rand -hex 32)" danmaku-server
#
# TOKEN_SECRET is required: the image sets NODE_ENV=production, and in production the server
# refuses to start (exit code 2, "configuration error") while TOKEN_SECRET is unset or is the
# public development secret. Give it a secret of its own, at least 16 characters, at run time
# (-e, --env-file, or your orchestrator's secrets); never bake it into the image. Clients'
# tokens must be signed with the same secret.

# ---- build: all dependencies, compile TypeScript into dist/ --------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# tsconfig.json compiles src/, test/ and bench/; .dockerignore keeps node_modules, dist and
# bench results out of the context.
COPY . .
RUN npm run build

# ---- runtime: production dependencies and the compiled server only -------------------------
FROM node:20-bookworm-slim AS runtime
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
# SHUTDOWN_TIMEOUT_MS: up to 43 s. Give it that grace period (docker stop -t 45, compose
# stop_grace_period: 45s, Kubernetes terminationGracePeriodSeconds: 45), or shorten the windows;
# cut short, the clients not yet moved drop all at once.
# Standalone by default; set NATS_URL, REDIS_URL and ROLE (gateway, logic) for cluster mode
# (docs/cluster.md). The admin API stays disabled until ADMIN_SECRET is set.
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/main.js"]
