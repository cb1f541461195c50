# syntax=docker/dockerfile:1
#
# forewarn container image.
#   docker build -t forewarn:dev .
# The image runs as UID/GID 65532 with no shell; the example config and the templates are
# under /etc/forewarn/ (the templates are also compiled into the binary: the directory is only
# used when the config's `templates:` key points at it).

# ---- build ------------------------------------------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src

# Dependencies first, against stub sources, so that this layer is reused until
# Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/commands.rs \
    && cargo build --release --locked --bin forewarn \
    && rm -rf src benches

# The real sources (the templates are compiled in with include_str!).
COPY src ./src
COPY benches ./benches
COPY templates ./templates
# Make the real sources newer than the stub build's fingerprints.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin forewarn \
    && install -D -m 0755 target/release/forewarn /out/usr/local/bin/forewarn \
    && install -d -m 0755 /out/var/lib/forewarn

# ---- runtime ----------------------------------------------------------------------------
# distroless/cc: glibc, libgcc, CA certificates, tzdata; no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot

COPY --from=build /out/usr/local/bin/forewarn /usr/local/bin/forewarn
# Where the default --state ledger file goes (a volume in practice; the Kubernetes manifests
# keep the ledger in a ConfigMap instead).
COPY --from=build --chown=65532:65532 /out/var/lib/forewarn /var/lib/forewarn
COPY templates/ /etc/forewarn/templates/
COPY config/forewarn.yaml /etc/forewarn/forewarn.yaml

USER 65532:65532
WORKDIR /var/lib/forewarn
EXPOSE 8080

ENTRYPOINT ["/usr/local/bin/forewarn"]
CMD ["run", "--config", "/etc/forewarn/forewarn.yaml", "--state", "/var/lib/forewarn/ledger.json"]
