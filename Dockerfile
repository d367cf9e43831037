# droptrace images: one build, two targets.
#
#   podman build --target controller -t droptrace-controller .   # unprivileged operator
#   podman build --target agent      -t droptrace-agent .        # privileged node agent
#
# The bases are build arguments. The defaults are the images that
# test/image/base-images.sh builds from Debian's archive (no registry is needed):
#   BUILD_BASE  Node.js >= 20.5 with npm                 (Debian 13 + nodejs 20 + npm)
#   NODE_BASE   Node.js >= 20.5 on PATH as `node`        (Debian 13 + nodejs 20)
#   AGENT_BASE  Node.js >= 20.5, SystemTap (stap, staprun) new enough for the nodes'
#               kernels, make and the gcc the nodes' kernel headers name, kmod, elfutils
#                                   (Debian sid + nodejs 24 + SystemTap 5.6 + gcc 16, 14 and 12:
#                                   the compilers of sid's, Debian 13's and Debian 12's kernels)
# Other images with those contents should work too (an official node:<version>-slim
# for BUILD_BASE and NODE_BASE, say); only the defaults are tested here.
# `npm run test:image` builds both targets and checks what they contain.
ARG BUILD_BASE=localhost/droptrace-base-build:latest
ARG NODE_BASE=localhost/droptrace-base-node:latest
ARG AGENT_BASE=localhost/droptrace-base-agent:latest

FROM ${BUILD_BASE} AS build
# Behind a TLS-intercepting proxy npm needs the proxy's CA: mount it and name it,
#   podman build -v /etc/ssl/certs/ca-certificates.crt:/run/build-ca.crt:ro \
#     --build-arg NODE_EXTRA_CA_CERTS=/run/build-ca.crt ...
# (test/image/test-image.sh does this with the host's bundle). A build argument
# reaches this stage's RUN steps only, never the images that ship.
ARG NODE_EXTRA_CA_CERTS
WORKDIR /src
# Dependencies first, so a source change does not reinstall them. No install
# scripts: nothing droptrace uses needs one, and none then runs in the build.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.ts ./scripts/
COPY src ./src
COPY stap/droptrace.stp ./stap/
# tsc checks and compiles; scripts/bundle.ts then bundles the CLI with its
# dependencies into dist/bundle (droptrace.mjs and the chunks it loads lazily).
# Bundled, Node loads only the code droptrace reaches instead of every file of
# @kubernetes/client-node: about 55 MB less resident memory for the agent.
RUN npm run build
# What runs: the bundle (no node_modules, no package.json: .mjs is an ES module by
# its name; no source maps, which point into src/ and node_modules/) with the
# licences of the packages in it, and the probe script, which
# src/probe/script.ts finds two directories above the bundle. Owned by root and
# readable by everyone (the controller's user only reads).
RUN mkdir -p /app/dist/bundle/chunks /app/stap \
 && cp dist/bundle/*.mjs dist/bundle/THIRD-PARTY-LICENSES.txt /app/dist/bundle/ \
 && cp dist/bundle/chunks/*.mjs /app/dist/bundle/chunks/ \
 && cp stap/droptrace.stp /app/stap/ \
 && chown -R 0:0 /app \
 && chmod -R a+rX,go-w /app

# The operator: non-root, numeric so runAsNonRoot can check it, and nothing is
# written at run time, so it runs with a read-only root file system.
FROM ${NODE_BASE} AS controller
ARG NODE_BASE
ARG VERSION=dev
ARG REVISION=unknown
ENV NODE_ENV=production
COPY --from=build /app /app
WORKDIR /app
USER 65532:65532
# DEP0169 is Node's warning about url.parse(), which node-fetch 2 inside
# @kubernetes/client-node calls for the API server's URL (from the pod's own
# service account, not from any user). Newer Node prints it as plain text in the
# middle of the JSON log; it says nothing droptrace or its users can act on.
ENTRYPOINT ["node", "--disable-warning=DEP0169", "/app/dist/bundle/droptrace.mjs"]
CMD ["controller"]
LABEL org.opencontainers.image.title="droptrace-controller" \
      org.opencontainers.image.description="droptrace operator: schedules node agents for DropTraces and merges their reports into status" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${NODE_BASE}"

# The node agent: root, because it compiles and loads a kernel module. It needs
# the host's /lib/modules and /usr/src (and, on Debian hosts, the
# /usr/lib/linux-kbuild-* directory that the headers' scripts link to) mounted
# read-only, and a writable module cache (DROPTRACE_CACHE_DIR, /var/cache/droptrace).
FROM ${AGENT_BASE} AS agent
ARG AGENT_BASE
ARG VERSION=dev
ARG REVISION=unknown
ENV NODE_ENV=production
COPY --from=build /app /app
WORKDIR /app
USER 0:0
# The agent's memory (goal: under 80 MB while tracing; bench/agent/memory.ts runs
# the agent with this ENV and ENTRYPOINT). glibc's malloc raises its mmap
# threshold to the largest block freed so far, so once the agent has read and
# freed /proc/kallsyms (9 MB), blocks up to that size come from its heap and
# stay resident after they are freed; fixed thresholds hand them back.
ENV MALLOC_MMAP_THRESHOLD_=131072 \
    MALLOC_TRIM_THRESHOLD_=131072
# A fixed heap, whatever the node's memory or the pod's limit: Node sizes its
# young generation from the machine's memory (16 MB semi-spaces on a large
# node) and collects late. With 1 MB semi-spaces the pipeline still parses over
# 200,000 rows/s (bench/agent/throughput.ts). 256 MB of old space is far above
# what the agent uses and far below the chart's 1 GiB limit, which gcc needs
# while compiling.
# --disable-warning=DEP0169: as for the controller; the agent's Node (24) prints it.
ENTRYPOINT ["node", "--max-old-space-size=256", "--max-semi-space-size=1", "--disable-warning=DEP0169", "/app/dist/bundle/droptrace.mjs"]
CMD ["agent"]
LABEL org.opencontainers.image.title="droptrace-agent" \
      org.opencontainers.image.description="droptrace node agent: compiles and runs the SystemTap kfree_skb probe against the host's kernel" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${AGENT_BASE}"
