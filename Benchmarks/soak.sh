#!/usr/bin/env bash
# Soak: the release build under moderate mixed load for a long time
# (default 1 hour), checking that memory and file descriptors stay flat.
# Not run by test.sh.
#
#   Benchmarks/soak.sh [SECONDS] [ENGINE]      (default 3600 s, sqlite)
#
# Load, all at once: dnsperf at 2,000 UDP queries/s over the zone's names
# and an NXDOMAIN share; /update from 4 clients, a few per second each,
# their values alternating; a bad-password client (rate limited after its
# allowance); a client opening and dropping idle API connections. Every
# minute it prints RSS, open fds, the store's challenge count and the
# requests done; at the end the RSS growth between the first and the last
# quarter, and exits non-zero when it exceeds 20 % or fds grew by more
# than 50. Take the exclusive lock for short runs only
# (flock -x /work/bench.lock Benchmarks/soak.sh 300); a 1-hour run wants
# a machine of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-3600}"
engine="${2:-sqlite}"

if [ -z "${CDNSD:-}" ]; then
    swift build -c release --product cdnsd >/dev/null
    CDNSD="$(swift build -c release --show-bin-path)/cdnsd"
fi
work="$(mktemp -d /tmp/cdnsd-soak.XXXXXX)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

dns_port=$(( 20000 + RANDOM % 10000 ))
api_port=$(( dns_port + 1 ))
CDNS_DNS_LISTEN="127.0.0.1:$dns_port" CDNS_API_LISTEN="127.0.0.1:$api_port" CDNS_LOG_LEVEL=warning \
CDNS_STORAGE_ENGINE="$engine" CDNS_STORAGE_PATH="$work/data/cdnsd.sqlite" \
    taskset -c 0 "$CDNSD" serve >"$work/cdnsd.log" 2>&1 &
cdnsd=$!
pids+=("$cdnsd")
for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$api_port/health" >/dev/null 2>&1 && break
    sleep 0.05
done

printf '%s\n' "demo.test SOA" "www.demo.test A" "ca.demo.test A" "nothing.demo.test A" "demo.test TXT" "x.y.demo.test AAAA" >"$work/queries.txt"
taskset -c 1 dnsperf -s 127.0.0.1 -p "$dns_port" -d "$work/queries.txt" -l "$seconds" -Q 2000 -c 4 >"$work/dnsperf.log" 2>&1 &
pids+=("$!")

python3 - "$api_port" "$seconds" "$work" <<'PY' &
import http.client, json, random, socket, sys, threading, time
port, seconds, work = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
deadline = time.time() + seconds
counts = {"update": 0, "update_errors": 0, "bad": 0, "idle": 0}
def call(method, path, headers=None, body=None, connection=None):
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=json.dumps(body) if body is not None else None,
                           headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        if own:
            connection.close()
accounts = []
for _ in range(4):
    status, body = call("POST", "/register", body={})
    accounts.append(json.loads(body))
def updater(account):
    n = 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.time() < deadline:
        n += 1
        try:
            status, _ = call("POST", "/update", {"X-Api-User": account["username"], "X-Api-Key": account["password"]},
                             {"subdomain": account["subdomain"], "txt": ("ab"[n % 2]) * 43}, connection)
        except (OSError, http.client.HTTPException):
            status = 0
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        counts["update" if status == 200 else "update_errors"] += 1
        time.sleep(0.25)
def bad():
    while time.time() < deadline:
        try:
            call("POST", "/update", {"X-Api-User": accounts[0]["username"], "X-Api-Key": "x" * 40},
                 {"subdomain": accounts[0]["subdomain"], "txt": "c" * 43})
        except (OSError, http.client.HTTPException):
            pass
        counts["bad"] += 1
        time.sleep(0.5)
def idle():
    while time.time() < deadline:
        held = []
        for _ in range(50):
            try:
                held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            except OSError:
                pass
        counts["idle"] += len(held)
        time.sleep(15)
        for s in held:
            s.close()
threads = [threading.Thread(target=updater, args=(a,)) for a in accounts] + [threading.Thread(target=bad), threading.Thread(target=idle)]
for t in threads:
    t.start()
while time.time() < deadline:
    time.sleep(5)
    with open(f"{work}/clients.json", "w") as f:
        json.dump(counts, f)
for t in threads:
    t.join()
with open(f"{work}/clients.json", "w") as f:
    json.dump(counts, f)
PY
pids+=("$!")

echo "soak: cdnsd $(git rev-parse --short HEAD 2>/dev/null || echo '?'), ${seconds}s, storage $engine, pid $cdnsd"
samples=()
fds=()
start=$(date +%s)
while [ $(( $(date +%s) - start )) -lt "$seconds" ]; do
    sleep 60
    kill -0 "$cdnsd" 2>/dev/null || { echo "soak: cdnsd died"; exit 1; }
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$cdnsd/status")
    fd=$(ls "/proc/$cdnsd/fd" | wc -l)
    samples+=("$rss")
    fds+=("$fd")
    echo "  t=$(( $(date +%s) - start ))s rss ${rss} KiB, fds $fd, clients $(cat "$work/clients.json" 2>/dev/null || echo '{}')"
done
wait "${pids[2]}" 2>/dev/null || true
grep -E "Queries per second|Queries completed|Average Latency" "$work/dnsperf.log" | sed 's/^ */  dnsperf: /' || true
n=${#samples[@]}
if [ "$n" -lt 4 ]; then echo "soak: too short for a trend ($n samples)"; exit 0; fi
quarter=$(( n / 4 ))
first=0; last=0
for i in $(seq 0 $(( quarter - 1 ))); do first=$(( first + samples[i] )); last=$(( last + samples[n - 1 - i] )); done
growth=$(( (last - first) * 100 / first ))
echo "soak: RSS first quarter avg $(( first / quarter )) KiB, last quarter avg $(( last / quarter )) KiB (${growth} %); fds ${fds[0]} -> ${fds[n-1]}"
[ "$growth" -le 20 ] && [ $(( fds[n-1] - fds[0] )) -le 50 ]
