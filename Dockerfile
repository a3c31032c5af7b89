# syntax=docker/dockerfile:1
#
# promptgate container image.
#
#   docker build -t promptgate .
#   docker run -p 8080:8080 -e PROMPTGATE_ADMIN_KEY=... promptgate
#
# Configuration: mount a TOML file and pass `serve --config /etc/promptgate.toml`,
# or set PROMPTGATE__<SECTION>__<KEY> variables. With no config the gateway
# serves the built-in mock-* models and keeps its SQLite store in
# /var/lib/promptgate/data (mount a volume there to keep it).

# ---- build ---------------------------------------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The cache mounts keep the crate registry and compiled dependencies between
# builds; the binary is copied out of the target cache in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin promptgate \
    && install -D -m 0755 target/release/promptgate /out/promptgate

# ---- runtime -------------------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates follows the Debian release; pinning its version only breaks rebuilds.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 promptgate \
    && useradd --system --uid 10001 --gid promptgate \
        --home-dir /var/lib/promptgate --shell /usr/sbin/nologin promptgate \
    && mkdir -p /var/lib/promptgate/data \
    && chown -R promptgate:promptgate /var/lib/promptgate

COPY --from=build /out/promptgate /usr/local/bin/promptgate
COPY --chown=promptgate:promptgate prompts/ /var/lib/promptgate/prompts/

# The `promptgate` user, by number so that `runAsNonRoot` checks can verify it.
USER 10001:10001
WORKDIR /var/lib/promptgate
ENV PROMPTGATE__LISTEN=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["promptgate"]
CMD ["serve"]
