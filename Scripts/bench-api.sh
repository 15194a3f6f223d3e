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

dns_port=$(( 20000 + RANDOM % 10000 ))
api_port=$(( dns_port + 1 ))
CDNS_DNS_LISTEN="127.0.0.1:$dns_port" CDNS_API_LISTEN="127.0.0.1:$api_port" \
CDNS_STORAGE_ENGINE="$engine" CDNS_STORAGE_PATH="$work/data/cdnsd.sqlite" \
    taskset -c 0 "$cdnsd" serve >"$work/cdnsd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$api_port/health" >/dev/null 2>&1 && break
    sleep 0.1
done

account=$(curl -sf -X POST "http://127.0.0.1:$api_port/register")
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$account" "$1"; }
cat >"$work/update.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Api-User"] = "$(field username)"
wrk.headers["X-Api-Key"] = "$(field password)"
local bodies = {
  '{"subdomain":"$(field subdomain)","txt":"$(printf 'a%.0s' $(seq 43))"}',
  '{"subdomain":"$(field subdomain)","txt":"$(printf 'b%.0s' $(seq 43))"}',
}
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[n % 2 + 1])
end
LUA

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
