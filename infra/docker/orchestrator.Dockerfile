# syntax=docker/dockerfile:1
# The orchestrator worker: workflows only (no tensors), on node:20-slim.
# Build from the repository root:
#   docker build -f infra/docker/orchestrator.Dockerfile -t winnow-orchestrator:0.1.0 .
ARG NODE_IMAGE=node:20.18.1-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY contracts contracts
COPY kernels kernels
COPY domain domain
COPY compute compute
COPY activities activities
COPY workflows workflows
COPY workers workers
COPY client client
COPY infra infra
COPY bench bench
COPY test test
RUN npx tsc -p tsconfig.json \
  && rm -rf dist/test dist/bench \
  && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    WINNOW_WORKER_KIND=orchestrator \
    WINNOW_APP_DIR=/app
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
COPY infra/docker/entrypoint.sh /app/entrypoint.sh
# The node image's unprivileged user.
USER 1000:1000
ENTRYPOINT ["/app/entrypoint.sh"]
