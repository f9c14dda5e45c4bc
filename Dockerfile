# syntax=docker/dockerfile:1
# dora-events container image: a static-enough Rust binary on distroless/cc (glibc, libgcc, CA
# certificates, no shell, no package manager), running as the image's nonroot user (65532).
#
#   docker build -t dora-events:dev .
#   docker run --rm -p 8080:8080 -v dora-data:/var/lib/dora-events dora-events:dev
#
# The root filesystem can be read-only: the binary writes only its SQLite database, under
# /var/lib/dora-events (a volume). Configuration comes from DORA_* variables (docs/configuration.md)
# or a TOML file named by DORA_CONFIG. Debian 13 (trixie) in both stages, so the glibc the binary
# was linked against is the one it runs with.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-trixie AS builder
WORKDIR /src
# The whole workspace: the crates embed their SQL migrations, CDEvents schemas and dashboard
# assets at build time (.dockerignore leaves out tests, docs and build output).
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY src ./src
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin dora-events \
    && install -D -m 0755 target/release/dora-events /out/usr/local/bin/dora-events \
    && install -d -m 0750 /out/var/lib/dora-events

FROM gcr.io/distroless/cc-debian13:nonroot
LABEL org.opencontainers.image.title="dora-events" \
      org.opencontainers.image.description="DORA metrics from CloudEvents and CDEvents" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/usr/local/bin/dora-events /usr/local/bin/dora-events
COPY --from=builder --chown=65532:65532 /out/var/lib/dora-events /var/lib/dora-events
ENV DORA_LISTEN=0.0.0.0:8080 \
    DORA_DATABASE_URL=sqlite:///var/lib/dora-events/dora-events.db \
    RUST_LOG=info
WORKDIR /var/lib/dora-events
VOLUME ["/var/lib/dora-events"]
USER 65532:65532
EXPOSE 8080
# The image has no curl: the binary checks itself (exit 0 on a 2xx from /readyz).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["/usr/local/bin/dora-events", "probe", "--url", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/dora-events"]
CMD ["serve"]
