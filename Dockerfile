# syntax=docker/dockerfile:1
# celery-pulse container image.
#
#   docker build -t celery-pulse .
#   docker run --rm -p 9808:9808 --read-only celery-pulse --broker-url redis://redis:6379/0
#
# The Node.js major is CI's (.ci/node.sh NODE_MAJOR, README "Runtime"); test/integration/
# runtime-layout.test.ts checks that, and reproduces this image's runtime layout (production
# dependencies only, unprivileged user, read-only files) against a real redis-server.
ARG NODE_IMAGE=node:24-alpine

# Compile TypeScript with the dev dependencies; nothing of this stage but dist/ is kept.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && find dist -name '*.map' -delete

# Production dependencies only, from the lock file. Every dependency is plain JavaScript, so no
# install script has to run and the tree does not depend on the build tools of the base image.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}
# npm, npx and corepack are not used at run time: dropping them makes the image smaller and
# leaves less to patch.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /opt/yarn-* \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg
# The V8 heap follows the container's memory limit: Node 24 reads the cgroup limit, and this sets
# the old generation to 60% of it (the rest is young generation, code and buffers), where Node's
# own default is half the limit but never under ~256 MiB, which is more than a 256Mi container has.
# Override with NODE_OPTIONS, e.g. --max-old-space-size=MiB.
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-old-space-size-percentage=60
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
# The node user of the official image, by number so that Kubernetes' runAsNonRoot can check it.
# Nothing is written at run time (logs go to stdout), so a read-only root file system works.
USER 1000:1000
EXPOSE 9808
# Node is PID 1 and handles SIGTERM/SIGINT itself (src/cli.ts: stop consuming, close HTTP, exit 0
# within 10 s); it starts no child processes, so there are no zombies to reap and no init is needed.
# --max-semi-space-size: see src/heap-tuning.ts (V8 reads it only at start-up). Its LAUNCH_ENV
# (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_) is for glibc: this image's musl reads neither.
ENTRYPOINT ["node", "--max-semi-space-size=4", "dist/cli.js"]
