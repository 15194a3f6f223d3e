#!/usr/bin/env bash
# /update requests per second and latency (p50, p99) of the release build,
# with cdnsd pinned to core 0 and wrk to core 1, at concurrency 1 and 8.
#
#   Scripts/bench-api.sh [SECONDS] [ENGINE]     (default 10 s, sqlite)
#
# Each request is a real acme-dns update: authenticated (the verified-secret
# cache spares bcrypt after the first), committed to the store (SQLite with
# synchronous=FULL: on disk before the reply), and published to the DNS
# event loops. The account's subdomain alternates between two values, as a
# wildcard plus apex order does. Logging stays at info: one line per request.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
engine="${2:-sqlite}"

command -v wrk >/dev/null 2>&1 || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
}

swift build -c release --product cdnsd >/dev/null
cdnsd="$(swift build -c release --show-bin-path)/cdnsd"

work="$(mktemp -d /tmp/cdnsd-bench-api.XXXXXX)"
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

. Scripts/api-bench-lib.sh
start_api_daemon
write_update_script

echo "cdnsd $(git rev-parse --short HEAD 2>/dev/null || echo '?'), storage $engine, ${seconds}s per run, cdnsd on core 0, wrk on core 1"
for connections in 1 8; do
    out=$(taskset -c 1 wrk -t1 -c"$connections" -d"${seconds}s" --latency -s "$work/update.lua" "http://127.0.0.1:$api_port/update")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(grep -E "Non-2xx|Socket errors" <<<"$out" || true)
    echo "concurrency $connections: $rps requests/s, p50 $p50, p99 $p99 ${errors:+($errors)}"
done
echo "served at the end: $(dig +short @127.0.0.1 -p "$dns_port" "$(field fulldomain)" TXT | tr '\n' ' ')"
