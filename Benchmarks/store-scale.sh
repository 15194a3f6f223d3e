#!/usr/bin/env bash
# How the store's cost grows with the data (issue 16), release build, in one run:
#
#   Benchmarks/store-scale.sh [SECONDS] [all|sqlite|postgres]    (default 10 s per load run, all)
#
# SQLite: /update at 8 connections with a 1,000-record zone and one account,
# then with 100,000 static records, 10,000 accounts and 10,000 live challenge
# values (rate ratio, p99, max); write-to-DNS visibility at both sizes;
# exec-to-first-answer and RSS; max latency of /update and of DNS queries
# while `cdnsd credential add` runs from another process.
# PostgreSQL: two replicas on one database, 8 clients spread over both:
# rate, p99, the verified-secret cache hit rate from /metrics, and how soon
# a write on one replica is answered by the other; with a core per replica
# (PostgreSQL and wrk on both cores), then with both replicas and
# PostgreSQL on core 0 and wrk on core 1.
#
# SQLite: cdnsd runs on core 0, load generators on core 1.
# CDNSD=path measures that binary instead of building.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
part="${2:-all}"
probe="python3 $PWD/Benchmarks/store_probe.py"

for pair in wrk:wrk dnsperf:dnsperf sqlite3:sqlite3 curl:curl; do
    command -v "${pair#*:}" >/dev/null 2>&1 || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pair%%:*}" >/dev/null
    }
done

if [ -z "${CDNSD:-}" ]; then
    swift build -c release --product cdnsd 2>&1 | grep -E "error|warning: .*cdnsd" || true
    CDNSD="$(swift build -c release --show-bin-path)/cdnsd"
fi
cdnsd="$CDNSD"

work="$(mktemp -d /tmp/cdnsd-bench-store.XXXXXX)"
chmod 755 "$work"
pids=()
pgdir=""
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -n "$pgdir" ] && [ -f "$pgdir/data/postmaster.pid" ]; then
        kill -INT "$(head -n 1 "$pgdir/data/postmaster.pid")" 2>/dev/null || true
        sleep 1
    fi
    rm -rf "$work"
}
trap cleanup EXIT

port() { echo $(( 20000 + RANDOM % 20000 )); }

# start NAME CONFIG DNS_PORT [CORES]: starts cdnsd on CORES (default 0); sets
# $started_pid and $started_ms (exec to first answer).
start() {
    local name="$1" config="$2" dns_port="$3" cores="${4:-0}"
    local t0
    t0=$(date +%s%N)
    taskset -c "$cores" "$cdnsd" serve --config "$config" >"$work/$name.log" 2>&1 &
    started_pid=$!
    pids+=("$started_pid")
    started_ms=$($probe first-answer "$dns_port" "$t0")
}

rss() { awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' "/proc/$1/status"; }

register() { curl -sf -X POST "http://127.0.0.1:$1/register"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

# wrk_update API_PORT ACCOUNT_JSON CONNECTIONS SECONDS: prints "RPS p50 p99 max non2xx".
# wrk runs on $wrk_cores.
wrk_cores=1
wrk_update() {
    local api="$1" account="$2" connections="$3" duration="$4"
    local script="$work/update-$api.lua"
    cat >"$script" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Api-User"] = "$(field "$account" username)"
wrk.headers["X-Api-Key"] = "$(field "$account" password)"
local bodies = {
  '{"subdomain":"$(field "$account" subdomain)","txt":"$(printf 'a%.0s' $(seq 43))"}',
  '{"subdomain":"$(field "$account" subdomain)","txt":"$(printf 'b%.0s' $(seq 43))"}',
}
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[n % 2 + 1])
end
LUA
    local out
    out=$(taskset -c "$wrk_cores" wrk -t1 -c"$connections" -d"${duration}s" --latency -s "$script" "http://127.0.0.1:$api/update")
    local non2xx
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1 == "50%" {print $2}' <<<"$out") $(awk '$1 == "99%" {print $2}' <<<"$out") $(awk '$1 == "Latency" {print $4}' <<<"$out") ${non2xx:-0}"
}

report_wrk() { # LABEL "RPS p50 p99 max non2xx"
    read -r rps p50 p99 max non2xx <<<"$2"
    printf '  %-44s %9s req/s  p50 %-8s p99 %-8s max %-8s non-2xx %s\n' "$1" "$rps" "$p50" "$p99" "$max" "$non2xx"
}

echo "cdnsd $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, ${seconds}s per load run; cdnsd on core 0, load on core 1"
if [ "$part" != postgres ]; then
echo
echo "SQLite"

# Small: 1,000 records, one account.
small_dns=$(port); small_api=$((small_dns + 1))
$probe config 1000 "$small_dns" "$small_api" sqlite "$work/small/cdnsd.sqlite" >"$work/small.toml"
start small "$work/small.toml" "$small_dns"
small_pid=$started_pid
account=$(register "$small_api")
wrk_update "$small_api" "$account" 8 2 >/dev/null   # warm: the first request per connection pays bcrypt
small=$(wrk_update "$small_api" "$account" 8 "$seconds")
small_visible=$($probe visibility "$small_api" "$small_dns" "$(field "$account" username)" "$(field "$account" password)" \
    "$(field "$account" subdomain)" "$(field "$account" fulldomain)" 200)
echo "  1,000 records, 1 account: first answer ${started_ms} ms after exec, RSS $(rss "$small_pid")"
report_wrk "/update, 8 connections" "$small"
echo "  write to DNS visibility: $small_visible"
kill "$small_pid"; wait "$small_pid" 2>/dev/null || true

# Large: 100,000 records, 10,000 accounts, 10,000 live challenges.
large_dns=$(port); large_api=$((large_dns + 1))
mkdir -p "$work/large"
$probe config 100000 "$large_dns" "$large_api" sqlite "$work/large/cdnsd.sqlite" >"$work/large.toml"
start large-first "$work/large.toml" "$large_dns"
first_start_ms=$started_ms
account=$(register "$large_api")
hash=$(sqlite3 "$work/large/cdnsd.sqlite" "SELECT password_hash FROM accounts LIMIT 1")
kill "$started_pid"; wait "$started_pid" 2>/dev/null || true
$probe seed 9999 10000 "$hash" | sqlite3 "$work/large/cdnsd.sqlite"
start large "$work/large.toml" "$large_dns"
large_pid=$started_pid
echo "  100,000 records, $(sqlite3 "$work/large/cdnsd.sqlite" "SELECT count(*) FROM accounts") accounts, $(sqlite3 "$work/large/cdnsd.sqlite" "SELECT count(*) FROM challenges") challenges:" \
     "first answer ${started_ms} ms after exec (${first_start_ms} ms on the very first start, which stores the records), RSS $(rss "$large_pid")"
wrk_update "$large_api" "$account" 8 2 >/dev/null
large=$(wrk_update "$large_api" "$account" 8 "$seconds")
report_wrk "/update, 8 connections" "$large"
large_visible=$($probe visibility "$large_api" "$large_dns" "$(field "$account" username)" "$(field "$account" password)" \
    "$(field "$account" subdomain)" "$(field "$account" fulldomain)" 200)
echo "  write to DNS visibility: $large_visible"
read -r small_rps _ <<<"$small"; read -r large_rps _ <<<"$large"
echo "  rate with 100k records / rate with 1k: $(python3 -c "print(f'{$large_rps / $small_rps:.2f}')")"
echo "  RSS after the load: $(rss "$large_pid")"

# Writes from another process during /update and query load (the CLI runs
# beside the load generators on core 1; niced, it would hold SQLite's write
# lock while descheduled and measure that instead).
printf 'www.svc.test A\nh77.svc.test A\nnothere.svc.test A\n' >"$work/queries"
taskset -c 1 dnsperf -s 127.0.0.1 -p "$large_dns" -d "$work/queries" -l "$((seconds + 2))" -Q 5000 >"$work/dnsperf.out" 2>&1 &
dnsperf_pid=$!
(
    sleep 2
    for index in 1 2 3; do
        taskset -c 1 "$cdnsd" credential add "bench-cli-$index" --allow '*.svc.test' --config "$work/large.toml" >/dev/null 2>>"$work/cli.log"
        sleep 1
    done
) &
cli_pid=$!
during=$(wrk_update "$large_api" "$account" 8 "$seconds")
wait "$cli_pid"; wait "$dnsperf_pid" || true
report_wrk "/update while credential add runs 3 times" "$during"
echo "  DNS queries meanwhile: $(grep -E 'Queries per second|Average Latency' "$work/dnsperf.out" | tr -s ' ' | tr '\n' ' ')"
echo "  credentials seen by the daemon: $(curl -s "http://127.0.0.1:$large_api/metrics" >/dev/null; sqlite3 "$work/large/cdnsd.sqlite" "SELECT count(*) FROM credentials") stored"
kill "$large_pid"; wait "$large_pid" 2>/dev/null || true
fi

[ "$part" = sqlite ] && exit 0
echo
echo "PostgreSQL, two replicas on one database, 4 wrk connections to each"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pgdir="$work/pg"
mkdir -p "$pgdir"; chown postgres "$pgdir"
pgport=$(port)
su postgres -s /bin/sh -c "$pgbin/initdb -D $pgdir/data -A trust -U postgres" >"$work/initdb.log" 2>&1
su postgres -s /bin/sh -c "$pgbin/pg_ctl -D $pgdir/data -l $pgdir/postgres.log -w -o '-p $pgport -k $pgdir -c listen_addresses=127.0.0.1' start" >/dev/null
url="postgres://postgres@127.0.0.1:$pgport/postgres"
postmaster=$(head -n 1 "$pgdir/data/postmaster.pid")
# pin_postgres CORES: the postmaster and every process it started (its
# backends inherit the postmaster's affinity).
pin_postgres() {
    for pid in "$postmaster" $(pgrep -P "$postmaster"); do taskset -a -p -c "$1" "$pid" >/dev/null; done
}

# replicas LABEL CORES_A CORES_B POSTGRES_CORES WRK_CORES: two fresh replicas
# (new accounts) under that placement, 4 wrk connections to each at once.
replicas() {
    echo "  $1"
    pin_postgres "$4"
    wrk_cores="$5"
    local a_dns a_api b_dns b_api a_pid b_pid account_a account_b wrk_a wrk_b wrk_a_pid
    a_dns=$(port); a_api=$((a_dns + 1)); b_dns=$((a_dns + 2)); b_api=$((a_dns + 3))
    $probe config 1000 "$a_dns" "$a_api" postgres "$url" >"$work/a.toml"
    $probe config 1000 "$b_dns" "$b_api" postgres "$url" >"$work/b.toml"
    start replica-a "$work/a.toml" "$a_dns" "$2"; a_pid=$started_pid
    start replica-b "$work/b.toml" "$b_dns" "$3"; b_pid=$started_pid
    account_a=$(register "$a_api")
    account_b=$(register "$b_api")
    wrk_update "$a_api" "$account_a" 4 2 >/dev/null
    wrk_update "$b_api" "$account_b" 4 2 >/dev/null
    wrk_update "$a_api" "$account_a" 4 "$seconds" >"$work/wrk-a" &
    wrk_a_pid=$!
    wrk_b=$(wrk_update "$b_api" "$account_b" 4 "$seconds")
    wait "$wrk_a_pid"
    wrk_a=$(cat "$work/wrk-a")
    report_wrk "  replica A, 4 connections" "$wrk_a"
    report_wrk "  replica B, 4 connections" "$wrk_b"
    read -r rps_a _ <<<"$wrk_a"; read -r rps_b _ <<<"$wrk_b"
    echo "    together: $(python3 -c "print(f'{$rps_a + $rps_b:.0f}')") req/s"
    for replica in "$a_api" "$b_api"; do
        curl -s "http://127.0.0.1:$replica/metrics" | awk -v port="$replica" '
            /^cdnsd_api_secret_cache_total/ && /hit/ { hit = $NF } /^cdnsd_api_secret_cache_total/ && /miss/ { miss = $NF }
            END { printf "    verified-secret cache on :%s: %d hits, %d misses (%.4f%% hits)\n", port, hit, miss, 100 * hit / (hit + miss) }'
    done
    echo "    written on A, answered by B: $($probe visibility "$a_api" "$b_dns" "$(field "$account_a" username)" "$(field "$account_a" password)" \
        "$(field "$account_a" subdomain)" "$(field "$account_a" fulldomain)" 200)"
    kill "$a_pid" "$b_pid"; wait "$a_pid" "$b_pid" 2>/dev/null || true
}

# Replicas are for separate machines: a core each, PostgreSQL and the load
# on whatever is free. Then the harsher placement of the earlier figures:
# both replicas and PostgreSQL on core 0, the load on core 1.
replicas "a core per replica (A core 0, B core 1; PostgreSQL and wrk on both)" 0 1 0,1 0,1
replicas "both replicas and PostgreSQL on core 0, wrk on core 1" 0 0 0 1
