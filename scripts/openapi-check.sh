#!/usr/bin/env bash
# Runs schemathesis (pinned) against a fresh server and the document it serves.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
venv=target/schemathesis-venv
if [ ! -x "$venv/bin/st" ] || ! "$venv/bin/pip" show schemathesis 2>/dev/null | grep -q "^Version: $SCHEMATHESIS_VERSION$"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --quiet --bin serene
workdir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PORT=$port DATABASE_URL="$workdir/serene.db" BCRYPT_COST=10 COOKIE_SECURE=false RUST_LOG=warn \
    target/debug/serene > "$workdir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$workdir"' EXIT

base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
    curl -fsS "$base/api/health" > /dev/null 2>&1 && break
    sleep 0.1
done

# A registered user's session for the operations that need one.
SERENE_TOKEN=$(curl -fsS -i -X POST "$base/api/auth/register" \
    -H 'Content-Type: application/json' \
    -d "{\"email\":\"schemathesis@example.com\",\"password\":\"$(python3 -c 'import secrets; print(secrets.token_hex(16))')\"}" \
    | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: serene_token=\([^;]*\);.*/\1/p')
[ -n "$SERENE_TOKEN" ] || { echo "openapi-check: could not register a user" >&2; exit 1; }
export SERENE_TOKEN

st="$venv/bin/st --config-file schemathesis.toml run $base/api/openapi.json --seed 1"
# Logout revokes the session the other operations use, so it runs on its own, last.
$st --exclude-operation-id logout
$st --include-operation-id logout
