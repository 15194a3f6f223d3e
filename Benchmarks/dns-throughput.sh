#!/usr/bin/env bash
# cdnsd against knotd (issue 14), release build, in one run:
#
#   Benchmarks/dns-throughput.sh [SECONDS] [ROUNDS] [CORES...]
#        (default 5 s per dnsperf run, 10 rounds, cores "1 2 all")
#
# For each core count N: both servers started with N workers (knotd
# udp-workers/tcp-workers N, cdnsd [dns] threads N), pinned to cores 0..N-1;
# dnsperf on the remaining cores, or on all cores when none remain (said so in
# the output). Rounds alternate knotd UDP, cdnsd UDP, knotd TCP, cdnsd TCP;
# the ratio is cdnsd's mean over knotd's mean, with a 95 % interval from
# resampling the rounds (a round of either server alone varies by about
# +-15 % on a VM; ten rounds bring the ratio's run-to-run spread down to about
# +-0.02, three left it at +-0.08). A core count given twice ("2" and "all" on
# two cores) runs once. Query mix as Scripts/bench-dns.sh:
# 30 % A hits, 20 % wildcard, 30 % TXT, 20 % NXDOMAIN.
#
# Then: idle RSS and exec-to-first-answer of both with the demo zone and with
# 100,000 records; heap allocations per answered query (an LD_PRELOAD malloc
# counter compiled here, read before and after a fixed number of queries);
# with PROFILE=1 a `perf record -g` of cdnsd under UDP load on one core.
#
# cdnsd is built as Examples/Containerfile ships it (Scripts/build-release.sh:
# release, --static-swift-stdlib, laid out by Scripts/cdnsd.order), in
# .build-static so that it does not rebuild .build.
# CDNSD=path uses that binary instead of building (e.g. to measure an older build).
# PARTS="throughput memory allocations" (the default) picks what runs.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-5}"
rounds="${2:-10}"
shift $(( $# > 2 ? 2 : $# )) || true
core_counts=("${@:-1 2 all}")
read -r -a core_counts <<<"${core_counts[*]}"
cores=$(nproc)
probe="python3 $PWD/Benchmarks/store_probe.py"
parts=" ${PARTS:-throughput memory allocations} "

for pair in dnsperf:dnsperf knot:knotd bind9-dnsutils:dig gcc:cc time:/usr/bin/time; do
    command -v "${pair#*:}" >/dev/null 2>&1 || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pair%%:*}" >/dev/null
    }
done

if [ -z "${CDNSD:-}" ]; then
    CDNSD="$(Scripts/build-release.sh --scratch-path "$PWD/.build-static" 2> >(grep -E "error" >&2 || true) | tail -1)"
fi
cdnsd="$CDNSD"

work="$(mktemp -d /tmp/cdnsd-bench-dns.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
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
    f.write('[api]\nlisten = ""\n[storage]\nengine = "memory"\n')
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
# The demo zone of `cdnsd serve` without a file, for knotd.
with open(f"{work}/demo.test.zone", "w") as f:
    f.write("demo.test. 3600 IN SOA dns.demo.test. admin.demo.test. 1 7200 3600 1209600 300\n")
    f.write("demo.test. 3600 IN NS dns.demo.test.\n")
    for line in ["*.demo.test. 3600 IN A 10.8.10.252", "ca.demo.test. 3600 IN A 10.8.10.254", "dns.demo.test. 3600 IN A 127.0.0.1",
                 'demo.test. 3600 IN TXT "cdnsd demo zone"']:
        f.write(line + "\n")
# 100,000 records, as Benchmarks/store-scale.sh serves them, for knotd.
with open(f"{work}/svc.test.zone", "w") as f:
    f.write("svc.test. 3600 IN SOA ns1.svc.test. admin.svc.test. 1 7200 3600 1209600 300\n")
    f.write("svc.test. 3600 IN NS ns1.svc.test.\nwww.svc.test. 300 IN A 10.8.10.1\n")
    f.writelines(f"h{i}.svc.test. 300 IN A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}\n" for i in range(100000))
PY

port() { echo $(( 20000 + RANDOM % 20000 )); }

# `threads N`: the environment giving cdnsd N DNS threads; empty for a build
# from before [dns] threads, which sizes itself from the CPUs it may use
# (the same number under taskset).
threads_known=0
CDNS_DNS_THREADS=1 "$cdnsd" check-config --config "$work/cdnsd.toml" >/dev/null 2>&1 && threads_known=1
threads() { [ "$threads_known" = 1 ] && echo "CDNS_DNS_THREADS=$1"; true; }

knot_conf() {  # PORT WORKERS ZONE FILE -> config path
    local dir="$work/knot-$1"
    mkdir -p "$dir"
    cat >"$dir/knot.conf" <<KNOT
server:
    listen: 127.0.0.1@$1
    rundir: $dir
    udp-workers: $2
    tcp-workers: $2
    background-workers: 1
database:
    storage: $dir/db
template:
  - id: default
    storage: $dir
zone:
  - domain: $3
    file: $4
log:
  - target: stderr
    any: error
KNOT
    echo "$dir/knot.conf"
}

wait_for() {  # PORT NAME
    for _ in $(seq 200); do
        dig @127.0.0.1 -p "$1" +tries=1 +time=1 "$2" SOA +short >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "dns-throughput.sh: server on port $1 did not answer" >&2
    return 1
}

rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }  # user + system CPU of every thread
hz=$(getconf CLK_TCK)

# The third figure is dnsperf's own context switches (voluntary and not) per
# 100 answers: what a server's way of answering costs its client.
measure() {  # LOADCORES MODE PORT SERVERPID -> "q/s server-CPU-% dnsperf-switches"
    local before out
    before=$(ticks "$4")
    out=$(taskset -c "$1" /usr/bin/time -f 'context switches: %w %c' \
        dnsperf -s 127.0.0.1 -p "$3" -m "$2" -d "$work/queries.txt" -l "$seconds" -c 4 -q 200 -T 1 -t 5 2>&1 | tee -a "$work/dnsperf.log")
    echo "$(awk '/Queries per second:/ { print $4 }' <<<"$out") $(( ($(ticks "$4") - before) * 100 / hz / seconds ))" \
        "$(awk '/Queries completed:/ { n = $3 } /context switches:/ { s = $3 + $4 } END { printf "%.1f", n ? s * 100 / n : 0 }' <<<"$out")"
}

echo "cdnsd $(git rev-parse --short HEAD 2>/dev/null || echo '?') ($cdnsd), knotd $(knotd -V | awk '{print $NF}'), $cores cores, ${seconds}s per dnsperf run, $rounds rounds"
if [[ $parts == *" throughput "* ]]; then
echo
echo "q/s is the mean over the rounds; cpu is the server's CPU time over the run (100 = one core busy)."
printf '%-5s %-26s %9s %4s %9s %4s %6s   %9s %4s %9s %4s %6s\n' cores placement "knotd UDP" cpu "cdnsd UDP" cpu ratio "knotd TCP" cpu "cdnsd TCP" cpu ratio
measured=" "
for count in "${core_counts[@]}"; do
    [ "$count" = all ] && count=$cores
    [ "$count" -gt "$cores" ] && continue
    [[ $measured == *" $count "* ]] && continue
    measured+="$count "
    server_cores="0-$((count - 1))"
    if [ "$count" -lt "$cores" ]; then load_cores="$count-$((cores - 1))"; placement="server $server_cores, load $load_cores"
    else load_cores="0-$((cores - 1))"; placement="server+load share $server_cores"; fi
    kport=$(port); cport=$((kport + 1))
    taskset -c "$server_cores" knotd -c "$(knot_conf "$kport" "$count" svc.bench "$work/svc.bench.zone")" >"$work/knotd-$count.log" 2>&1 &
    kpid=$!; pids+=("$kpid")
    env CDNS_DNS_LISTEN="127.0.0.1:$cport" $(threads "$count") taskset -c "$server_cores" "$cdnsd" serve --config "$work/cdnsd.toml" >"$work/cdnsd-$count.log" 2>&1 &
    cpid=$!; pids+=("$cpid")
    wait_for "$kport" svc.bench; wait_for "$cport" svc.bench
    declare -A runs=()
    for round in $(seq "$rounds"); do
        for mode in udp tcp; do
            runs[knotd-$mode]+="$(measure "$load_cores" "$mode" "$kport" "$kpid");"
            runs[cdnsd-$mode]+="$(measure "$load_cores" "$mode" "$cport" "$cpid");"
        done
    done
    kill "$kpid" "$cpid"; wait "$kpid" "$cpid" 2>/dev/null || true
    python3 - "$count" "$placement" "${runs[knotd-udp]}" "${runs[cdnsd-udp]}" "${runs[knotd-tcp]}" "${runs[cdnsd-tcp]}" <<'PY'
import random, sys
count, placement, *series = sys.argv[1:]
parsed = [[tuple(float(x) for x in run.split()) for run in s.split(";") if run] for s in series]
means = [(sum(q for q, _, _ in runs) / len(runs), sum(c for _, c, _ in runs) / len(runs)) for runs in parsed]
(ku, kuc), (cu, cuc), (kt, ktc), (ct, ctc) = means
print(f"{count:<5} {placement:<26} {ku:9.0f} {kuc:4.0f} {cu:9.0f} {cuc:4.0f} {cu / ku:6.2f}   {kt:9.0f} {ktc:4.0f} {ct:9.0f} {ctc:4.0f} {ct / kt:6.2f}")
def interval(knot, cdns):
    """95 % bootstrap interval of mean(cdns) / mean(knot), rounds resampled in pairs."""
    rng, n = random.Random(14), len(knot)
    ratios = sorted(sum(cdns[i][0] for i in picks) / sum(knot[i][0] for i in picks)
                    for picks in ([rng.randrange(n) for _ in range(n)] for _ in range(2000)))
    return f"{ratios[50]:.2f}-{ratios[1949]:.2f}"
print(f"      95 % interval of the ratio: UDP {interval(parsed[0], parsed[1])}, TCP {interval(parsed[2], parsed[3])}")
names = ["knotd UDP", "cdnsd UDP", "knotd TCP", "cdnsd TCP"]
for name, runs in zip(names, parsed):
    print(f"      {name}: " + "  ".join(f"{q:.0f} ({c:.0f}%)" for q, c, _ in runs))
print("      dnsperf context switches per 100 answers: " + ", ".join(
    f"{name} {sum(s for _, _, s in runs) / len(runs):.1f}" for name, runs in zip(names, parsed)))
print(f"      per CPU-second, cdnsd/knotd: UDP {(cu / cuc) / (ku / kuc):.2f}, TCP {(ct / ctc) / (kt / ktc):.2f}" if min(kuc, cuc, ktc, ctc) > 0 else "")
PY
done
echo "  dnsperf: $(grep -E "Queries lost" "$work/dnsperf.log" | awk '{ lost += $3 } END { print lost + 0 }') queries lost over all runs"
fi

stop() { kill "$1"; wait "$1" 2>/dev/null || true; }

if [[ $parts == *" memory "* ]]; then
echo
echo "Memory and start-up (all cores, idle RSS 1 s after the first answer)"
# startup NAME PORT QNAME DIR COMMAND...: starts COMMAND in DIR; sets $started_pid,
# $started_ms (exec to first answer) and $started_rss (MB, 1 s after that answer).
startup() {
    local name="$1" dns_port="$2" qname="$3" dir="$4"; shift 4
    local t0
    t0=$(date +%s%N)
    (cd "$dir" && exec "$@") >"$work/$name.log" 2>&1 &
    started_pid=$!; pids+=("$started_pid")
    started_ms=$(python3 - "$dns_port" "$t0" "$qname" <<'PY'
import socket, struct, sys, time
port, start, name = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
message = struct.pack(">HHHHHH", 1, 0, 1, 0, 0, 0) + labels + b"\0" + struct.pack(">HH", 1, 1)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(0.002)
deadline = time.time() + 60
while time.time() < deadline:
    sock.sendto(message, ("127.0.0.1", port))
    try:
        sock.recv(4096)
        print(f"{(time.time_ns() - start) / 1e6:.0f}")
        break
    except OSError:
        pass
else:
    print("none")
PY
)
    sleep 1
    started_rss=$(rss_mb "$started_pid")
}
demo_dir="$work/demo"; mkdir -p "$demo_dir" "$work/large"
p=$(port)
startup knotd-demo "$p" www.demo.test "$work" knotd -c "$(knot_conf "$p" "$cores" demo.test "$work/demo.test.zone")"
k_ms=$started_ms; k_rss=$started_rss; stop "$started_pid"
p=$(port)
startup cdnsd-demo "$p" www.demo.test "$demo_dir" env CDNS_DNS_LISTEN="127.0.0.1:$p" CDNS_API_LISTEN="127.0.0.1:$((p + 1))" "$cdnsd"
c_ms=$started_ms; c_rss=$started_rss; stop "$started_pid"
printf '  %-34s knotd %5s ms %7s MB   cdnsd %5s ms %7s MB   (RSS target: knotd + 10 MB = %.1f MB)\n' \
    "demo zone (cdnsd: SQLite, API on)" "$k_ms" "$k_rss" "$c_ms" "$c_rss" "$(python3 -c "print($k_rss + 10)")"

p=$(port)
startup knotd-100k "$p" www.svc.test "$work" knotd -c "$(knot_conf "$p" "$cores" svc.test "$work/svc.test.zone")"
k_ms=$started_ms; k_rss=$started_rss; stop "$started_pid"
p=$(port)
$probe config 100000 "$p" "$((p + 1))" sqlite "$work/large/cdnsd.sqlite" >"$work/large.toml"
startup cdnsd-100k-first "$p" www.svc.test "$work" "$cdnsd" serve --config "$work/large.toml"
c1_ms=$started_ms; c1_rss=$started_rss; stop "$started_pid"
startup cdnsd-100k "$p" www.svc.test "$work" "$cdnsd" serve --config "$work/large.toml"
c_ms=$started_ms; c_rss=$started_rss; stop "$started_pid"
printf '  %-34s knotd %5s ms %7s MB   cdnsd %5s ms %7s MB   (first start, storing the records: %s ms, %s MB)\n' \
    "100,000 records (cdnsd: SQLite)" "$k_ms" "$k_rss" "$c_ms" "$c_rss" "$c1_ms" "$c1_rss"
# How much of the link order still names functions of this binary (Scripts/update-symbol-order.sh
# renews it; a stale order shows here first, as a growing idle RSS after).
python3 - "$cdnsd" Scripts/cdnsd.order <<'PY'
import subprocess, sys
binary, order = sys.argv[1:]
defined = set(subprocess.run(["nm", "--defined-only", "--format=just-symbols", binary], capture_output=True, text=True).stdout.split())
wanted = [line.strip() for line in open(order) if line.strip() and not line.startswith("#")]
print(f"  link order: {sum(name in defined for name in wanted):,} of the {len(wanted):,} functions in {order} are in this binary")
PY
fi

if [[ $parts == *" allocations "* ]]; then
echo
echo "Heap allocations per answered query (LD_PRELOAD malloc counter, cdnsd on core 0, 1 thread)"
cat >"$work/malloc-count.c" <<'C'
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
static atomic_long calls;
static const char *path;
void *malloc(size_t n) { atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed); return __libc_realloc(p, n); }
void *memalign(size_t a, size_t n) { atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { return memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) { void *p = memalign(a, n); if (!p) return 12; *out = p; return 0; }
static void dump(int signal) {
    (void)signal;
    char text[32]; int at = sizeof text; long value = atomic_load(&calls);
    text[--at] = '\n';
    do { text[--at] = '0' + value % 10; value /= 10; } while (value);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) { (void)!write(fd, text + at, sizeof text - at); close(fd); }
}
__attribute__((constructor)) static void start(void) {
    path = getenv("MALLOC_COUNT_FILE");
    if (path) signal(SIGUSR2, dump);
}
C
cc -O2 -shared -fPIC -o "$work/malloc-count.so" "$work/malloc-count.c"
allocations() {  # MODE -> "allocations queries"
    local p count0 count1 answered
    p=$(port)
    env CDNS_DNS_LISTEN="127.0.0.1:$p" $(threads 1) MALLOC_COUNT_FILE="$work/mallocs" LD_PRELOAD="$work/malloc-count.so" \
        taskset -c 0 "$cdnsd" serve --config "$work/cdnsd.toml" >"$work/cdnsd-malloc.log" 2>&1 &
    local pid=$!; pids+=("$pid")
    wait_for "$p" svc.bench
    # Warm: every question of the file once, so that each answer is cached.
    taskset -c 1 dnsperf -s 127.0.0.1 -p "$p" -m "$1" -d "$work/queries.txt" -n 2 -c 4 -q 200 -T 1 >/dev/null 2>&1
    kill -USR2 "$pid"; sleep 0.3; count0=$(cat "$work/mallocs")
    answered=$(taskset -c 1 dnsperf -s 127.0.0.1 -p "$p" -m "$1" -d "$work/queries.txt" -n 100 -c 4 -q 200 -T 1 2>&1 | awk '/Queries completed:/ { print $3 }')
    kill -USR2 "$pid"; sleep 0.3; count1=$(cat "$work/mallocs")
    stop "$pid"
    echo "$((count1 - count0)) $answered"
}
read -r udp_allocs udp_queries < <(allocations udp)
read -r tcp_allocs tcp_queries < <(allocations tcp)
printf '  UDP: %s allocations over %s answered queries = %s per query\n' "$udp_allocs" "$udp_queries" "$(python3 -c "print(f'{$udp_allocs / $udp_queries:.4f}')")"
printf '  TCP: %s allocations over %s answered queries = %s per query\n' "$tcp_allocs" "$tcp_queries" "$(python3 -c "print(f'{$tcp_allocs / $tcp_queries:.4f}')")"
fi

if [ "${PROFILE:-0}" = 1 ] && command -v perf >/dev/null; then
    echo
    echo "Profile: cdnsd on core 0 (1 thread), UDP load from core 1, perf record -g, top symbols by self time"
    p=$(port)
    env CDNS_DNS_LISTEN="127.0.0.1:$p" $(threads 1) taskset -c 0 "$cdnsd" serve --config "$work/cdnsd.toml" >"$work/cdnsd-perf.log" 2>&1 &
    pid=$!; pids+=("$pid")
    wait_for "$p" svc.bench
    taskset -c 1 dnsperf -s 127.0.0.1 -p "$p" -m udp -d "$work/queries.txt" -l "$((seconds + 2))" -c 4 -q 200 -T 1 >/dev/null 2>&1 &
    load=$!
    sleep 1
    perf record -g -o "$work/perf.data" -p "$pid" -- sleep "$seconds" >/dev/null 2>&1 || true
    wait "$load" || true
    stop "$pid"
    top() { perf report -i "$work/perf.data" --no-children --sort "$1" -g none --stdio 2>/dev/null | awk -v n="$2" '/^ +[0-9.]+%/ && shown++ < n { $1 = $1; print "  " substr($0, 1, 110) }'; }
    top symbol 25
fi
