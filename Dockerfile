# VeilNet Conflux in a container: runs `veilnet-conflux run` in the foreground, configured only
# by environment variables (VEILNET_CONFLUX_TOKEN, VEILNET_GUARDIAN, VEILNET_GUARDIAN_CA,
# VEILNET_PORTAL, VEILNET_PORTAL_NETWORKS, VEILNET_RTC, VEILNET_NO_RELAY, VEILNET_TUN). Needs
# --privileged (TUN device, routes) and --network host.
#
#   docker build -t veilnet/conflux:beta .
#   docker run -d --name veilnet-conflux --privileged --network host --restart unless-stopped \
#     -e VEILNET_CONFLUX_TOKEN=... -e VEILNET_GUARDIAN=https://guardian.veilnet.app veilnet/conflux:beta

FROM node:22-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
  && rm -rf /var/lib/apt/lists/*
# The Deno toolchain comes from npm (toolchain/package.json pins it); kept apart from the sources so that
# Deno does not treat them as the program's dependencies.
WORKDIR /toolchain
COPY toolchain/package.json toolchain/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
WORKDIR /opt/veilnet-conflux
COPY deno.json deno.lock main.ts ./
COPY cli ./cli
COPY core ./core
COPY ffi ./ffi
COPY service ./service
ENV DENO_DIR=/opt/veilnet-conflux/.deno \
    VEILNET_CACHE_DIR=/opt/veilnet-conflux/lib \
    DENO_NO_UPDATE_CHECK=1
# Fetch every module (the WebRTC engines are imported lazily) and build the TUN shim now, so
# the container needs no network access to registries and no compiler at run time.
RUN /toolchain/node_modules/deno/deno cache --config deno.json main.ts core/node/mod.ts \
      core/tether/engine_werift.ts core/tether/engine_libdatachannel.ts \
  && /toolchain/node_modules/deno/deno eval --config deno.json \
      'const { locateShim } = await import("./ffi/shim.ts"); console.log((await locateShim()).path)'

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates iproute2 \
  && rm -rf /var/lib/apt/lists/*
COPY --from=build /toolchain/node_modules/deno/deno /usr/local/bin/deno
COPY --from=build /opt/veilnet-conflux/deno.json /opt/veilnet-conflux/deno.lock /opt/veilnet-conflux/main.ts /opt/veilnet-conflux/
COPY --from=build /opt/veilnet-conflux/cli /opt/veilnet-conflux/cli
COPY --from=build /opt/veilnet-conflux/core /opt/veilnet-conflux/core
COPY --from=build /opt/veilnet-conflux/ffi /opt/veilnet-conflux/ffi
COPY --from=build /opt/veilnet-conflux/service /opt/veilnet-conflux/service
COPY --from=build /opt/veilnet-conflux/.deno /opt/veilnet-conflux/.deno
COPY --from=build /opt/veilnet-conflux/lib /opt/veilnet-conflux/lib
# DENO_V8_FLAGS: the node's V8 flags (NODE_V8_FLAGS in core/node/options.ts).
ENV DENO_DIR=/opt/veilnet-conflux/.deno \
    VEILNET_CACHE_DIR=/opt/veilnet-conflux/lib \
    DENO_NO_UPDATE_CHECK=1 \
    DENO_V8_FLAGS=--optimize-for-size
# `docker exec veilnet-conflux veilnet-conflux info` reads the running node's status.
RUN printf '#!/bin/sh\nexec deno run -A --cached-only --config /opt/veilnet-conflux/deno.json /opt/veilnet-conflux/main.ts "$@"\n' \
      > /usr/local/bin/veilnet-conflux \
  && chmod 0755 /usr/local/bin/veilnet-conflux
ENTRYPOINT ["deno", "run", "-A", "--cached-only", "--config", "/opt/veilnet-conflux/deno.json", "/opt/veilnet-conflux/main.ts"]
CMD ["run"]
