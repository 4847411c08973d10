# syntax=docker/dockerfile:1
# The `cxtn` binary in a small image that runs `cxtn listen` as a user without privileges.
#
#   docker build -t cxtn .
#   docker run -d --name cxtn -p 8080:8080 -p 127.0.0.1:9090:9090 \
#     -v cxtn-inbox:/var/lib/cxtn --env-file /etc/cxtn/listen.env --stop-timeout 45 cxtn
#
# The environment file holds the secrets (CXTN_PATH_TOKEN, CXTN_ADMIN_TOKEN; CXTN_INBOX for a PostgreSQL URL
# with a password); docs/operations.md says how to run it.

ARG RUST_VERSION=1.88
ARG DEBIAN_RELEASE=bookworm

# --- build: the distribution binary (profile dist: stripped, LTO), from the locked dependencies ---------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --profile dist --locked --package cxtn-cli --bin cxtn \
    && install -m 0755 target/dist/cxtn /usr/local/bin/cxtn

# --- runtime: the binary, curl for the health check, and nothing that runs as root ----------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 cxtn \
    && useradd --system --uid 10001 --gid cxtn --home-dir /var/lib/cxtn --shell /usr/sbin/nologin cxtn \
    && install -d -o cxtn -g cxtn -m 0700 /var/lib/cxtn
COPY --from=build /usr/local/bin/cxtn /usr/local/bin/cxtn

# The inbox lives on a volume: mount one, or every stored delivery goes with the container.
VOLUME ["/var/lib/cxtn"]
WORKDIR /var/lib/cxtn
ENV CXTN_INBOX=/var/lib/cxtn/cxtn-inbox.sqlite \
    CXTN_LOG_FORMAT=json

USER 10001:10001

# 8080: deliveries from CXTN. 9090: the admin listener (/healthz, /readyz, /metrics); publish it privately.
EXPOSE 8080 9090

# Alive while the admin listener answers /healthz (it needs no token); /readyz is for load balancers.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["curl", "--fail", "--silent", "--show-error", "--max-time", "2", "http://127.0.0.1:9090/healthz"]

# SIGTERM (docker stop) finishes the deliveries and forwards in flight within --shutdown-timeout (30 s by
# default): give the container longer than that to stop (--stop-timeout 45).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/cxtn"]
CMD ["listen", "--addr", "0.0.0.0:8080", "--admin-addr", "0.0.0.0:9090", "--max-connections", "512"]
