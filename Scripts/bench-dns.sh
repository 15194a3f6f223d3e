#!/usr/bin/env bash
# Queries per second of cdnsd (release build) and knotd in one run, same zone
# and query mix, each server pinned to core 0 and dnsperf to core 1, over UDP
# and TCP. Prints both figures and the ratio cdnsd / knotd.
#
#   Scripts/bench-dns.sh [SECONDS]        (default 20 per measurement)
#
# Query mix: 30 % A hits, 20 % wildcard, 30 % TXT, 20 % NXDOMAIN.
# knotd runs one UDP worker (its fastest setting on one core; KNOT_UDP_WORKERS
# changes it) and its default TCP workers; cdnsd sizes its event loops from
# the CPUs it may run on, so one here.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"

missing=()
for pair in dnsperf:dnsperf knot:knotd; do
    command -v "${pair#*:}" >/dev/null 2>&1 || missing+=("${pair%%:*}")
done
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

swift build -c release --product cdnsd >/dev/null
cdnsd="$(swift build -c release --show-bin-path)/cdnsd"

work="$(mktemp -d /tmp/cdnsd-bench.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

python3 - "$work" <<'PY'
import random, sys
work = sys.argv[1]
records = []
for i in range(1, 101):
    records.append(f"host{i}.svc.bench. 300 IN A 10.0.{i // 250}.{i % 250 + 1}")
    records.append(f"_acme-challenge.host{i}.svc.bench. 60 IN TXT \"challenge-token-{i:03d}-abcdefghijklmnopqrstuvwxyz012345\"")
records.append("*.apps.svc.bench. 300 IN A 10.8.10.252")
records.append("ns1.svc.bench. 300 IN A 127.0.0.1")
with open(f"{work}/cdnsd.toml", "w") as f:
    f.write('[[zone]]\nname = "svc.bench"\nnameservers = ["ns1.svc.bench"]\nadmin = "admin.svc.bench"\nttl = 3600\nnegative_ttl = 300\nrecords = [\n')
    f.writelines(f"  '{r}',\n" for r in records)
    f.write("]\n[log]\nlevel = \"warning\"\n")
with open(f"{work}/svc.bench.zone", "w") as f:
    f.write("svc.bench. 3600 IN SOA ns1.svc.bench. admin.svc.bench. 1 7200 3600 1209600 300\n")
    f.write("svc.bench. 3600 IN NS ns1.svc.bench.\n")
    f.writelines(r + "\n" for r in records)
rng = random.Random(42)
queries = []
queries += [f"host{rng.randint(1, 100)}.svc.bench A" for _ in range(300)]
queries += [f"x{rng.randint(1, 100000)}.apps.svc.bench A" for _ in range(200)]
queries += [f"_acme-challenge.host{rng.randint(1, 100)}.svc.bench TXT" for _ in range(300)]
queries += [f"missing{rng.randint(1, 100000)}.svc.bench A" for _ in range(200)]
rng.shuffle(queries)
with open(f"{work}/queries.txt", "w") as f:
    f.writelines(q + "\n" for q in queries)
PY

port=$(( 20000 + RANDOM % 20000 ))
cat > "$work/knot.conf" <<KNOT
server:
    listen: 127.0.0.1@$port
    rundir: $work
    udp-workers: ${KNOT_UDP_WORKERS:-1}
    background-workers: 1
database:
    storage: $work/knotdb
template:
  - id: default
    storage: $work
zone:
  - domain: svc.bench
    file: $work/svc.bench.zone
log:
  - target: stderr
    any: error
KNOT

wait_for() {  # port
    for _ in $(seq 100); do
        dig @127.0.0.1 -p "$1" +tries=1 +time=1 svc.bench SOA +short >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "bench-dns.sh: server on port $1 did not answer" >&2
    return 1
}

measure() {  # mode port -> queries per second
    taskset -c 1 dnsperf -s 127.0.0.1 -p "$2" -m "$1" -d "$work/queries.txt" -l "$seconds" -c 4 -q 200 -T 1 -t 5 2>&1 \
        | tee -a "$work/dnsperf.log" | awk '/Queries per second:/ { print $4 }'
}

run_server() {  # name command... ; prints "udp tcp"
    local name="$1"; shift
    taskset -c 0 "$@" > "$work/$name.log" 2>&1 &
    local pid=$!
    pids+=("$pid")
    wait_for "$port"
    local udp tcp
    udp=$(measure udp "$port")
    tcp=$(measure tcp "$port")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    echo "$udp $tcp"
}

read -r knot_udp knot_tcp < <(run_server knotd knotd -c "$work/knot.conf")
sleep 1
read -r cdns_udp cdns_tcp < <(CDNS_DNS_LISTEN="127.0.0.1:$port" CDNS_API_LISTEN="" CDNS_STORAGE_ENGINE=memory run_server cdnsd "$cdnsd" serve --config "$work/cdnsd.toml")

printf '\n%-8s %14s %14s\n' "" "UDP q/s" "TCP q/s"
printf '%-8s %14.0f %14.0f\n' knotd "$knot_udp" "$knot_tcp"
printf '%-8s %14.0f %14.0f\n' cdnsd "$cdns_udp" "$cdns_tcp"
printf '%-8s %14.2f %14.2f\n' ratio "$(echo "$cdns_udp / $knot_udp" | bc -l)" "$(echo "$cdns_tcp / $knot_tcp" | bc -l)"
grep -E "Queries lost|Response codes" "$work/dnsperf.log" | sed 's/^/  dnsperf: /'
