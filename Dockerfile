# VeilNet Conflux in a container: runs `veilnet-conflux run` in the foreground, configured only
# by environment variables (VEILNET_CONFLUX_TOKEN, VEILNET_GUARDIAN, VEILNET_GUARDIAN_CA,
# VEILNET_PORTAL, VEILNET_PORTAL_NETWORKS, VEILNET_RTC, VEILNET_NO_RELAY, VEILNET_TUN). Needs
# --privileged (TUN device, routes, nftables) and --network host.
#
#   docker build -t veilnet/conflux:beta .
#   docker run -d --name veilnet-conflux --privileged --network host --restart unless-stopped \
#     -e VEILNET_CONFLUX_TOKEN=... -e VEILNET_GUARDIAN=https://guardian.veilnet.app veilnet/conflux:beta
#   docker exec veilnet-conflux veilnet-conflux info
#
# With podman: `podman build --format docker …` (the OCI format has no HEALTHCHECK). Without a
# registry, container/debian-base.sh makes the debian:bookworm-slim base from an apt mirror.
# The only base image is debian:bookworm-slim; the build stage needs the npm registry and an apt
# mirror, the final image needs no network access except to the Guardian and the realm.

ARG DENO_VERSION=2.9.6

# ---- build: the pinned Deno, every module, the C libraries ---------------------------------
FROM debian:bookworm-slim AS build
ARG DENO_VERSION
ARG DEBIAN_FRONTEND=noninteractive
# Debian's npm fetches the pinned Deno (the npm package `deno` ships the binary, as with
# `npx deno@2.9.6` in the README); gcc and the OpenSSL headers build the TUN shim and the
# AES-GCM library of ffi/.
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates npm gcc libc6-dev libssl-dev \
  && rm -rf /var/lib/apt/lists/*
# Behind a TLS-inspecting proxy, hand its CA to the downloads of this stage as a build secret
# (never stored in an image): `docker build --secret id=build_ca,src=/path/to/ca.pem .`;
# /opt/build-ca.sh points npm and Deno at it when it is there.
RUN printf '%s\n' '[ -f /run/secrets/build_ca ] || return 0' \
    'export NODE_EXTRA_CA_CERTS=/run/secrets/build_ca DENO_CERT=/run/secrets/build_ca' \
    > /opt/build-ca.sh
RUN --mount=type=secret,id=build_ca . /opt/build-ca.sh \
  && deno_bin="$(npx --yes "deno@${DENO_VERSION}" eval 'console.log(Deno.execPath())')" \
  && install -m 0755 "$deno_bin" /usr/local/bin/deno \
  && deno --version | grep -q "^deno ${DENO_VERSION} " \
  && rm -rf /root/.npm
WORKDIR /opt/veilnet-conflux
ENV DENO_DIR=/opt/veilnet-conflux/.deno \
    VEILNET_CACHE_DIR=/opt/veilnet-conflux/lib \
    DENO_NO_UPDATE_CHECK=1 \
    NO_COLOR=1
# The npm packages of deno.json at the versions of deno.lock (a layer of its own: it changes
# less often than the sources).
COPY deno.json deno.lock ./
RUN --mount=type=secret,id=build_ca . /opt/build-ca.sh && deno install --frozen
COPY main.ts ./
COPY cli ./cli
COPY core ./core
COPY ffi ./ffi
COPY service ./service
# Every module of the program (the WebRTC engines are imported lazily), and the TUN shim, the
# AES-GCM library and the UDP (datagram lane) library built into VEILNET_CACHE_DIR under their
# source hashes, where ffi/shim.ts finds them at run time: no registry and no compiler needed.
RUN --mount=type=secret,id=build_ca . /opt/build-ca.sh \
  && deno cache --frozen main.ts core/tether/engine_werift.ts core/tether/engine_libdatachannel.ts \
  && deno eval --config deno.json --frozen ' \
    const { locateShim, locateLibrary } = await import("./ffi/shim.ts"); \
    const { AESGCM_LIBRARY } = await import("./ffi/aesgcm.ts"); \
    const { UDP_LIBRARY } = await import("./ffi/udp.ts"); \
    const libs = [AESGCM_LIBRARY, UDP_LIBRARY]; \
    for (const l of [await locateShim(), ...await Promise.all(libs.map((s) => locateLibrary(s)))]) { \
      console.log(l.origin, l.path); \
    }'

# ---- the image ------------------------------------------------------------------------------
FROM debian:bookworm-slim
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG DEBIAN_FRONTEND=noninteractive
LABEL org.opencontainers.image.title="VeilNet Conflux" \
      org.opencontainers.image.description="VeilNet Conflux: the connector of the VeilNet post-quantum overlay network (run with --privileged --network host)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.vendor="VeilNet" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"
# iproute2: routes and interface settings; nftables: the portal's masquerade; libssl3: the
# AES-GCM library's libcrypto; tini: PID 1 that hands SIGTERM to the node and reaps children.
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates iproute2 nftables libssl3 tini \
  && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/deno /usr/local/bin/deno
COPY --from=build /opt/veilnet-conflux /opt/veilnet-conflux
COPY container/veilnet-conflux /usr/local/bin/veilnet-conflux
# DENO_V8_FLAGS: the node's V8 flags (NODE_V8_FLAGS in core/node/options.ts).
ENV DENO_DIR=/opt/veilnet-conflux/.deno \
    VEILNET_CACHE_DIR=/opt/veilnet-conflux/lib \
    DENO_NO_UPDATE_CHECK=1 \
    DENO_V8_FLAGS=--optimize-for-size
# The program starts from the cache alone, and no compiler came along.
RUN chmod 0755 /usr/local/bin/veilnet-conflux \
  && veilnet-conflux version \
  && ! command -v cc gcc >/dev/null
# `info` asks the running node over its status socket: exit 0 when it runs, 3 when not.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD veilnet-conflux info >/dev/null || exit 1
# SIGTERM (docker stop) ends the node: TUN removed, portal forwarding and nftables undone.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "veilnet-conflux"]
CMD ["run"]
