#!/usr/bin/env bash
# /update latency of a freshly started daemon (its first SECONDS) against
# the same daemon right after (warm): 8 connections, one account, SQLite,
# cdnsd pinned to core 0 and wrk to core 1, as Scripts/bench-api.sh.
#
#   Scripts/bench-api-cold.sh [SECONDS] [RUNS]     (default 10 s, 3 runs)
#
# Each run starts a new daemon on a new data directory, registers one
# account, and starts wrk at once. CDNSD=path benchmarks that binary
# instead of building the release one (to compare with an older build).
# RESTART=1 keeps the data directory from run to run: runs after the first
# are restarts of a daemon with an existing database (the account is new).
# Take the exclusive lock: flock -x /work/bench.lock Scripts/bench-api-cold.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
runs="${2:-3}"

if [ -z "${CDNSD:-}" ]; then
    swift build -c release --product cdnsd >/dev/null
    CDNSD="$(swift build -c release --show-bin-path)/cdnsd"
fi

work="$(mktemp -d /tmp/cdnsd-bench-cold.XXXXXX)"
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

run_wrk() {
    local out
    out=$(taskset -c 1 wrk -t1 -c8 -d"${seconds}s" --latency -s "$work/update.lua" "http://127.0.0.1:$api_port/update")
    local rps p50 p99 max errors
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    max=$(awk '$1 == "Latency" {print $4}' <<<"$out")
    errors=$(grep -E "Non-2xx|Socket errors" <<<"$out" || true)
    echo "$rps requests/s, p50 $p50, p99 $p99, max $max ${errors:+($errors)}"
}

echo "cdnsd $CDNSD ($(git rev-parse --short HEAD 2>/dev/null || echo '?')), 8 connections, ${seconds}s per phase, cdnsd on core 0, wrk on core 1"
for run in $(seq "$runs"); do
    [ "${RESTART:-0}" = 1 ] || rm -rf "$work/data"
    dns_port=$(( 20000 + RANDOM % 10000 ))
    api_port=$(( dns_port + 1 ))
    CDNS_DNS_LISTEN="127.0.0.1:$dns_port" CDNS_API_LISTEN="127.0.0.1:$api_port" \
    CDNS_STORAGE_ENGINE=sqlite CDNS_STORAGE_PATH="$work/data/cdnsd.sqlite" \
        taskset -c 0 "$CDNSD" serve >"$work/cdnsd.log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do
        curl -sf "http://127.0.0.1:$api_port/health" >/dev/null 2>&1 && break
        sleep 0.05
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
    echo "run $run cold: $(run_wrk)"
    echo "run $run warm: $(run_wrk)"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
done
