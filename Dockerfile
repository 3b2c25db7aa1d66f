# syntax=docker/dockerfile:1
# Serene: one static binary in an otherwise empty image.
#
#   docker build -t serene .
#   docker run -p 8080:8080 -v serene-data:/data serene

# --- build: a static musl binary --------------------------------------------
FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
COPY .cargo .cargo
RUN mkdir -p src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src target/release/deps/serene* target/release/deps/libserene* target/release/.fingerprint/serene-*
COPY src src
COPY sql sql
# The web app's files are compiled into the binary (include_bytes!), not copied.
COPY app app
RUN cargo build --release --locked \
    && mkdir -p /out/data \
    && cp target/release/serene /out/serene

# --- runtime: the binary, a data directory, nothing else --------------------
# (`just image-check` swaps the build stage for a binary made on the host with
# `--build-context build=<dir>`, and builds this stage as it is.)
FROM scratch
COPY --from=build /out/serene /serene
COPY --from=build --chown=10001:10001 /out/data /data
USER 10001:10001
ENV HOST=0.0.0.0 \
    PORT=8080 \
    DATABASE_URL=sqlite:////data/serene.db \
    RUST_LOG=info
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 CMD ["/serene", "healthcheck"]
ENTRYPOINT ["/serene"]
