# syntax=docker/dockerfile:1
#
# The swarmboot image: one image, every service. `docker run IMAGE <dhcp|tftp|tracker|seeder|
# scheduler|logsink|power>` runs one service configured by SWARMBOOT_* variables (docs/deploy.md).
#
#   docker build -t swarmboot:0.1.0 .
#
# Stage "compiled" installs every dependency (dev included) and compiles the workspaces with tsc -b;
# stage "bootenv" builds from it the install environment real nodes boot (scripts/build-bootenv.sh:
# Debian 12's kernel and tools, this image's node and agent); stage "build" prunes to production
# dependencies. The final stage holds only package manifests, compiled JavaScript (dist/src),
# node_modules and the install environment (/app/bootenv, served by the scheduler at
# /v1/bootenv), and runs as the non-root user "node" (uid 1000).
# dhcp and tftp bind 67/69 on the host network: compose and the Helm chart run those two as
# root with every capability dropped but NET_BIND_SERVICE (docs/deploy.md says why).

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS compiled
WORKDIR /src
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

# Manifests first: the npm ci layer stays cached while only sources change. Every workspace
# listed in package.json needs its package.json for npm ci.
COPY package.json package-lock.json ./
COPY packages/contracts/package.json packages/contracts/
COPY packages/kit/package.json packages/kit/
COPY packages/testkit/package.json packages/testkit/
COPY services/dhcp/package.json services/dhcp/
COPY services/tftp/package.json services/tftp/
COPY services/tracker/package.json services/tracker/
COPY services/seeder/package.json services/seeder/
COPY services/scheduler/package.json services/scheduler/
COPY services/logsink/package.json services/logsink/
COPY services/power/package.json services/power/
COPY agent/package.json agent/
COPY cli/package.json cli/
# Native optional dependencies (utp-native, bufferutil, ...) use their prebuilt binaries; where
# none fits, npm drops the optional package (there is no compiler in this image).
RUN npm ci --no-audit --no-fund

COPY tsconfig.base.json tsconfig.json ./
COPY packages/ packages/
COPY services/ services/
COPY agent/ agent/
COPY cli/ cli/
RUN npm run build

# The install environment is built into the image, not by a Job into a volume: it embeds this
# build's agent, which must speak this build's scheduler API, and a cluster need not reach
# Debian's mirrors when the chart is installed. About 40 MB (docs/architecture.md).
FROM compiled AS bootenv
COPY scripts/build-bootenv.sh scripts/
RUN apt-get update \
 && bash scripts/build-bootenv.sh --out /bootenv \
 && rm -rf /var/lib/apt/lists/*

FROM compiled AS build
# Production dependencies only, then the runtime tree in /out (the same script the offline
# check scripts/validate-deploy.sh runs without Docker).
COPY deploy/docker/assemble.sh /tmp/assemble.sh
RUN sh /tmp/assemble.sh /out

FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="swarmboot" \
      org.opencontainers.image.description="PXE (DHCP, TFTP), BitTorrent swarm, scheduler and log sink for installing many bare-metal machines at once" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production \
    SWARMBOOT_SEEDER_DATA=/data/seeder \
    SWARMBOOT_TFTP_ROOT=/srv/tftp \
    SWARMBOOT_BOOTENV_DIR=/app/bootenv
WORKDIR /app
# Owned by root and read-only for the service user: the code cannot be modified at run time.
COPY --from=build /out/ /app/
COPY deploy/docker/healthcheck.cjs /app/healthcheck.cjs
COPY --from=bootenv /bootenv/vmlinuz /bootenv/initrd.img /bootenv/manifest.json /app/bootenv/
# ipmitool: the power service's IPMI driver runs it (services/power). Unpinned: Debian's
# bookworm (security) updates are the version wanted.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ipmitool \
 && rm -rf /var/lib/apt/lists/*
# `swarmboot` on the PATH for `docker exec CONTAINER swarmboot ...`; the data directories exist
# with the right owner so that fresh named volumes inherit it.
RUN printf '#!/bin/sh\nexec node /app/cli/dist/src/main.js "$@"\n' > /usr/local/bin/swarmboot \
 && chmod 0755 /usr/local/bin/swarmboot \
 && mkdir -p /data/seeder /srv/tftp \
 && chown node:node /data/seeder
# numeric, so that runAsNonRoot can verify it: the image's "node" user
USER 1000:1000
# tracker, seeder (HTTP, BitTorrent), scheduler, logsink (syslog/udp); dhcp 67/udp and tftp
# 69/udp run on the host network. Ops endpoints (/healthz, /metrics): 9101-9107 (power: 9107).
EXPOSE 8000 8001 6881 8080 5514/udp 5514/tcp 6666/udp 9101-9107
# Probes the ops endpoint of whichever service runs (SWARMBOOT_OPS_LISTEN or its default port).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/app/healthcheck.cjs"]
ENTRYPOINT ["node", "/app/cli/dist/src/main.js"]
CMD ["--help"]
