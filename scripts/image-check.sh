#!/usr/bin/env bash
# Proves the Dockerfile's final stage without a Docker engine: a static binary
# built here, the final stage built around it with buildah, started, and checked
# (health answers, runs as non-root, image size).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v buildah > /dev/null || { apt-get update -qq && apt-get install -y -qq buildah; }
target=x86_64-unknown-linux-gnu
echo "== static binary ($target, crt-static)"
RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked --target "$target" --bin serene
rm -rf .image-check && mkdir -p .image-check/build/out/data
cp "target/$target/release/serene" .image-check/build/out/serene
file .image-check/build/out/serene 2> /dev/null || true

buildah="buildah --storage-driver vfs"
echo "== final stage with buildah"
$buildah bud --format docker --isolation chroot --build-context build=.image-check/build -t serene:check . > /dev/null
container=$($buildah from serene:check)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() {
    [ -n "${server:-}" ] && kill "$server" 2> /dev/null || true
    pkill -f "^/serene$" 2> /dev/null || true
    $buildah rm "$container" > /dev/null 2>&1 || true
}
trap cleanup EXIT

$buildah run --isolation chroot --env PORT="$port" "$container" -- /serene > .image-check/server.log 2>&1 &
server=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/api/health" > /dev/null 2>&1 && break
    sleep 0.1
done

echo "== checks"
health=$(curl -fsS "http://127.0.0.1:$port/api/health")
echo "GET /api/health -> $health"
[ "$health" = '{"status":"ok"}' ]
$buildah run --isolation chroot --env PORT="$port" "$container" -- /serene healthcheck
echo "serene healthcheck inside the image -> exit 0"
pid=$(pgrep -f "^/serene$" | head -n 1)
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
echo "server process uid -> $uid"
[ "$uid" != "0" ]
user=$($buildah inspect --format '{{.OCIv1.Config.User}}' serene:check)
echo "image user -> $user"
healthcheck=$($buildah inspect --format '{{.Docker.Config.Healthcheck.Test}}' serene:check)
echo "image healthcheck -> $healthcheck"
[[ "$healthcheck" == *"/serene healthcheck"* ]]
size=$($buildah images --format '{{.Size}}' serene:check | head -n 1)
echo "image size -> $size"
bytes=$(stat -c %s .image-check/build/out/serene)
echo "binary size -> $((bytes / 1024 / 1024)) MiB ($bytes bytes)"
[ "$bytes" -lt $((15 * 1024 * 1024)) ]
echo "image-check passed"
