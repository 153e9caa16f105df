# syntax=docker/dockerfile:1
# The Meridian image: one image for every process kind (control, edge, dns); the command picks it.
#   docker build -t meridian .
#   docker run --rm meridian --help
#   docker run -p 8080:8080 meridian edge --origin http://origin:9000 --listen 0.0.0.0:8080 \
#     --admin-listen 0.0.0.0:9180 --cache-dir /var/cache/meridian
# compose.yaml runs the distributed mode with it; docs/deploy/README.md is the guide.

# Build stage: production dependencies only (`--omit=dev`: no TypeScript, eslint or prettier; Node
# strips the types itself). The full image has python3, make and g++ in case better-sqlite3 has to
# compile its addon; the runtime stage is the same Debian release, so the addon loads there.
FROM node:24-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY web ./web

# Runtime stage: slim, no compilers, no npm cache, a dedicated unprivileged user.
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    MERIDIAN_HEALTHCHECK_URL=http://127.0.0.1:9180/healthz
RUN groupadd --system --gid 10001 meridian \
 && useradd --system --uid 10001 --gid meridian --home-dir /var/lib/meridian --shell /usr/sbin/nologin meridian \
 && mkdir -p /var/lib/meridian /var/cache/meridian /etc/meridian \
 && chown meridian:meridian /var/lib/meridian /var/cache/meridian
WORKDIR /app
# Owned by root and read-only to the process: it cannot rewrite its own code.
COPY --from=build /app /app
USER meridian:meridian
# State: the control plane's SQLite database and master key (single-node), the edges' disk cache
# and last-known-good state. PostgreSQL deployments keep only caches here.
VOLUME ["/var/lib/meridian", "/var/cache/meridian"]
# edge HTTP / HTTPS / admin, control API, dns (UDP and TCP).
EXPOSE 8080 8443 9180 8700 5353/udp 5353/tcp
# The edge's /healthz on its --admin-listen (0.0.0.0:9180 in compose.yaml); a control plane or dns
# sets MERIDIAN_HEALTHCHECK_URL to its own (control: http://127.0.0.1:8700/healthz).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.MERIDIAN_HEALTHCHECK_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "src/cli/main.ts"]
CMD ["--help"]
