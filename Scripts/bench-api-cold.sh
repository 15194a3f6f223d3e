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

cdnsd="${CDNSD:-}"
if [ -z "$cdnsd" ]; then
    swift build -c release --product cdnsd >/dev/null
    cdnsd="$(swift build -c release --show-bin-path)/cdnsd"
fi
. Scripts/api-bench-lib.sh

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

echo "cdnsd $cdnsd ($(git rev-parse --short HEAD 2>/dev/null || echo '?')), 8 connections, ${seconds}s per phase, cdnsd on core 0, wrk on core 1"
for run in $(seq "$runs"); do
    [ "${RESTART:-0}" = 1 ] || rm -rf "$work/data"
    start_api_daemon
    write_update_script
    echo "run $run cold: $(run_wrk)"
    echo "run $run warm: $(run_wrk)"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
done
