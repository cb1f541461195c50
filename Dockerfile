# syntax=docker/dockerfile:1
#
# forewarn container image.
#   docker build -t forewarn:dev .
# The image runs as UID/GID 65532 with no shell; the example config and the templates are
# under /etc/forewarn/ (the templates are also compiled into the binary: the directory is only
# used when the config's `templates:` key points at it).

# Base images are pinned by digest (the multi-platform index digest of the tag beside it), so a
# rebuild uses the same bytes. To move to a newer patch release, look the digest up and
# replace both parts together:
#   docker buildx imagetools inspect rust:1.89-bookworm              (the "Digest:" line)
#   docker buildx imagetools inspect gcr.io/distroless/cc-debian12:nonroot
# rust 1.89 is the crate's rust-version (Cargo.toml).

# ---- build ------------------------------------------------------------------------------
FROM rust:1.89-bookworm@sha256:948f9b08a66e7fe01b03a98ef1c7568292e07ec2e4fe90d88c07bb14563c84ff AS build
WORKDIR /src

# Release profile for the shipped binary, without changing Cargo.toml: fat LTO, one codegen
# unit, symbols stripped. Set for both builds below so the dependency layer matches.
ENV CARGO_PROFILE_RELEASE_LTO=true \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
    CARGO_PROFILE_RELEASE_STRIP=symbols

# Dependencies first, against stub sources, so that this layer is reused until
# Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches/scale \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/commands.rs \
    && echo 'fn main() {}' > benches/scale/main.rs \
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
FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f

COPY --from=build /out/usr/local/bin/forewarn /usr/local/bin/forewarn
# Where the default --state ledger file goes (a volume in practice; the Kubernetes manifests
# keep the ledger in a ConfigMap instead).
COPY --from=build --chown=65532:65532 /out/var/lib/forewarn /var/lib/forewarn
COPY templates/ /etc/forewarn/templates/
COPY config/forewarn.yaml /etc/forewarn/forewarn.yaml
COPY LICENSE /usr/share/doc/forewarn/LICENSE

USER 65532:65532
WORKDIR /var/lib/forewarn
EXPOSE 8080

ENTRYPOINT ["/usr/local/bin/forewarn"]
CMD ["run", "--config", "/etc/forewarn/forewarn.yaml", "--state", "/var/lib/forewarn/ledger.json"]
