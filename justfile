# Conveniences for Serene. Nothing here is required: README and CI use plain cargo.

# Serve on 127.0.0.1:8080 with ./data/serene.db and the offline mock AI.
run:
    cargo run --release

# The whole test suite (unit and integration).
test:
    cargo test

# Formatting and lints, as CI runs them.
lint:
    cargo fmt --check
    cargo clippy --all-targets -- -D warnings

# The load benchmark: release server, seeded database, table and JSON in target/bench.
bench *ARGS:
    cargo bench --bench load -- {{ARGS}}

# Build the real image (needs a Docker engine).
image:
    docker build -t serene .

# Without Docker: the final stage built with buildah around a static binary, started and checked.
image-check:
    bash scripts/image-check.sh

# Schemathesis against a live server and its own OpenAPI document.
openapi-check:
    bash scripts/openapi-check.sh
