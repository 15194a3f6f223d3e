#!/usr/bin/env bash
# Zone transfer figures of the release build (issue 12's targets in brackets):
#  1. AXFR of a 100,000-record zone, read by a raw TCP client from the query
#     to the closing SOA, five times [< 1 s], and cdnsd's resident memory
#     before, after and at its peak (VmHWM);
#  2. IXFR of one change on that zone (query to the last byte of the answer);
#  3. from an acme-dns /update reply to the value answered by a knotd
#     secondary (NOTIFY + IXFR), median and max [median < 50 ms, max < 1 s],
#     once with rounds 1.1 s apart and once 0.3 s apart (knotd starts at most
#     one refresh of a zone a second, so closer changes wait for it).
#
#   Benchmarks/zone-transfer.sh [RECORDS] [ROUNDS]     (default 100000, 30)
#
# The zone is loaded with `cdnsd zone import` from a generated zone file
# (SQLite store), so the import's time is printed too.
set -euo pipefail
cd "$(dirname "$0")/.."
records="${1:-100000}"
rounds="${2:-30}"

missing=()
for pair in knot:knotd bind9-dnsutils:dig curl:curl; do
    command -v "${pair#*:}" >/dev/null 2>&1 || missing+=("${pair%%:*}")
done
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# BENCH_CONFIGURATION=debug measures the debug build instead (quicker to build, slower to run).
configuration="${BENCH_CONFIGURATION:-release}"
swift build -c "$configuration" --product cdnsd >/dev/null
cdnsd="$(swift build -c "$configuration" --show-bin-path)/cdnsd"
echo "cdnsd $configuration build: $cdnsd"

work="$(mktemp -d /tmp/cdnsd-bench-xfr.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    sleep 0.5
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
dns_port=$(free_port); api_port=$(free_port); knot_port=$(free_port)

cat > "$work/cdnsd.toml" <<TOML
[dns]
listen = ["127.0.0.1:$dns_port"]
[[zone]]
name = "bench.test"
nameservers = ["ns.bench.test"]
admin = "admin.bench.test"
records = ["ns.bench.test. A 127.0.0.1"]
transfer = { allow = ["127.0.0.1/32"] }
notify = ["127.0.0.1:$knot_port"]
[api]
listen = "127.0.0.1:$api_port"
account_domain = "bench.test"
[storage]
engine = "sqlite"
path = "$work/data/cdnsd.sqlite"
[log]
level = "warning"
TOML

python3 - "$work/bench.test.zone" "$records" <<'PY'
import sys
path, count = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("$ORIGIN bench.test.\n$TTL 300\n@ IN SOA ns.bench.test. admin.bench.test. 1 7200 3600 1209600 300\n@ NS ns.bench.test.\n")
    for i in range(count - 1):   # with ns's A: RECORDS records besides SOA and NS
        if i % 4 == 0:
            f.write(f"host{i} TXT \"v=spf1 ip4:10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255} -all\"\n")
        else:
            f.write(f"host{i} A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}\n")
PY

start=$(date +%s.%N)
"$cdnsd" zone import "$work/bench.test.zone" --origin bench.test --config "$work/cdnsd.toml"
echo "zone import: $(echo "$(date +%s.%N) - $start" | bc -l | xargs printf '%.2f') s"

"$cdnsd" serve --config "$work/cdnsd.toml" > "$work/cdnsd.log" 2>&1 &
cdnsd_pid=$!
pids+=("$cdnsd_pid")
for _ in $(seq 300); do
    dig @127.0.0.1 -p "$dns_port" +tries=1 +time=1 bench.test SOA +short >/dev/null 2>&1 && break
    sleep 0.1
done

python3 - "$dns_port" "$cdnsd_pid" <<'PY'
import socket, struct, sys, time, statistics
port, pid = int(sys.argv[1]), int(sys.argv[2])

def rss():
    fields = {}
    for line in open(f"/proc/{pid}/status"):
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) // 1024, int(fields["VmHWM"].split()[0]) // 1024

def name(labels):
    return b"".join(bytes([len(l)]) + l.encode() for l in labels.split(".") if l) + b"\0"

def query(qtype, authority=b"", qid=0x4242):
    header = struct.pack("!HHHHHH", qid, 0, 1, 0, 1 if authority else 0, 0)
    return header + name("bench.test") + struct.pack("!HH", qtype, 1) + authority

def frames(sock):
    buffer = b""
    while True:
        while len(buffer) < 2:
            chunk = sock.recv(1 << 20)
            if not chunk: return
            buffer += chunk
        length = struct.unpack("!H", buffer[:2])[0]
        while len(buffer) < 2 + length:
            chunk = sock.recv(1 << 20)
            if not chunk: return
            buffer += chunk
        yield buffer[2:2 + length]
        buffer = buffer[2 + length:]

def first_answer_rdata(reply):
    offset = 12
    while reply[offset] != 0:
        offset += 1 + reply[offset]
    offset += 5
    if reply[offset] & 0xC0 == 0xC0:
        offset += 2
    else:
        while reply[offset] != 0: offset += 1 + reply[offset]
        offset += 1
    length = struct.unpack("!H", reply[offset + 8:offset + 10])[0]
    return reply[offset + 10:offset + 10 + length]

def soa_tail():
    # The SOA's last 20 bytes (serial, refresh, retry, expire, minimum) end the last AXFR message.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(query(6), ("127.0.0.1", port))
    rdata = first_answer_rdata(s.recv(4096))
    return rdata[-20:], struct.unpack("!I", rdata[-20:-16])[0]

def transfer(payload):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    begin = time.perf_counter()
    s.sendall(struct.pack("!H", len(payload)) + payload)
    return s, begin

tail, serial = soa_tail()
before, _ = rss()
times = []
for run in range(5):
    s, begin = transfer(query(252))
    messages = total = answers = 0
    for frame in frames(s):
        messages += 1
        total += len(frame)
        answers += struct.unpack("!H", frame[6:8])[0]
        if frame.endswith(tail) and answers > 1:
            break
    times.append(time.perf_counter() - begin)
    s.close()
after, peak = rss()
print(f"AXFR of {answers} records (SOA twice included): {messages} messages, {total / 1e6:.1f} MB; "
      f"times {' '.join(f'{t * 1000:.0f}' for t in times)} ms; median {statistics.median(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms [target < 1000 ms]")
print(f"cdnsd memory: RSS {before} MB before, {after} MB after five transfers, peak (VmHWM) {peak} MB")
PY

# One change, then IXFR from the serial before it.
register=$(curl -s -X POST "http://127.0.0.1:$api_port/register")
user=$(echo "$register" | python3 -c 'import json,sys; print(json.load(sys.stdin)["username"])')
key=$(echo "$register" | python3 -c 'import json,sys; print(json.load(sys.stdin)["password"])')
sub=$(echo "$register" | python3 -c 'import json,sys; print(json.load(sys.stdin)["subdomain"])')
full=$(echo "$register" | python3 -c 'import json,sys; print(json.load(sys.stdin)["fulldomain"])')

mkdir -p "$work/knot"
cat > "$work/knot.conf" <<KNOT
server:
    listen: 127.0.0.1@$knot_port
    rundir: $work/knot
database:
    storage: $work/knot/db
remote:
  - id: primary
    address: 127.0.0.1@$dns_port
acl:
  - id: notify_from_primary
    address: 127.0.0.1
    action: notify
template:
  - id: default
    storage: $work/knot
    semantic-checks: off
zone:
  - domain: bench.test
    master: primary
    acl: notify_from_primary
    zonefile-sync: -1
    zonefile-load: none
    journal-content: none
log:
  - target: stderr
    any: warning
KNOT
knotd -c "$work/knot.conf" > "$work/knot.log" 2>&1 &
pids+=("$!")

python3 - "$dns_port" "$api_port" "$knot_port" "$user" "$key" "$sub" "$full" "$rounds" <<'PY'
import json, socket, struct, sys, time, statistics, http.client
dns_port, api_port, knot_port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
user, key, sub, full, rounds = sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7], int(sys.argv[8])

def name(text):
    return b"".join(bytes([len(l)]) + l.encode() for l in text.split(".") if l) + b"\0"

def udp(port, qname, qtype):
    # With EDNS (4096): the account's values pile up past 512 bytes.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    opt = b"\0" + struct.pack("!HHIH", 41, 4096, 0, 0)
    s.sendto(struct.pack("!HHHHHH", 7, 0, 1, 0, 0, 1) + name(qname) + struct.pack("!HH", qtype, 1) + opt, ("127.0.0.1", port))
    try:
        return s.recv(65535)
    except socket.timeout:
        return b""

def serial(port):
    reply = udp(port, "bench.test", 6)
    if len(reply) < 40 or reply[3] & 15 != 0 or reply[6:8] == b"\0\0": return None
    offset = 12
    while reply[offset] != 0: offset += 1 + reply[offset]
    offset += 5
    offset += 2 if reply[offset] & 0xC0 == 0xC0 else len(name("bench.test"))
    length = struct.unpack("!H", reply[offset + 8:offset + 10])[0]
    rdata = reply[offset + 10:offset + 10 + length]
    return struct.unpack("!I", rdata[-20:-16])[0]

def update(value):
    connection = http.client.HTTPConnection("127.0.0.1", api_port)
    connection.request("POST", "/update", json.dumps({"subdomain": sub, "txt": value}), {"X-Api-User": user, "X-Api-Key": key})
    response = connection.getresponse()
    response.read()
    replied = time.perf_counter()
    assert response.status == 200, response.status
    return replied

# knotd loads the zone by AXFR first.
deadline = time.time() + 120
while serial(knot_port) != serial(dns_port):
    if time.time() > deadline: sys.exit("knotd never caught up")
    time.sleep(0.2)

# IXFR of one change on the big zone.
before = serial(dns_port)
update("a" * 43)
soa = name("bench.test") + struct.pack("!HHIH", 6, 1, 0, 22) + b"\0\0" + struct.pack("!IIIII", before, 0, 0, 0, 0)
query = struct.pack("!HHHHHH", 9, 0, 1, 0, 1, 0) + name("bench.test") + struct.pack("!HH", 251, 1) + soa
times = []
for _ in range(20):
    s = socket.create_connection(("127.0.0.1", dns_port))
    begin = time.perf_counter()
    s.sendall(struct.pack("!H", len(query)) + query)
    data = b""
    while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
        data += s.recv(65535)
    times.append(time.perf_counter() - begin)
    answers = struct.unpack("!H", data[2 + 6:2 + 8])[0]
    s.close()
print(f"IXFR of one change on the big zone: {answers} records, median {statistics.median(times) * 1000:.2f} ms, max {max(times) * 1000:.2f} ms (20 runs)")

def txt_on_knot(value):
    # Over TCP: the account's values pile up past what knotd sends over UDP (1,232 bytes).
    query = struct.pack("!HHHHHH", 8, 0, 1, 0, 0, 0) + name(full) + struct.pack("!HH", 16, 1)
    with socket.create_connection(("127.0.0.1", knot_port), timeout=1) as s:
        s.sendall(struct.pack("!H", len(query)) + query)
        data = b""
        while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
            chunk = s.recv(65535)
            if not chunk: break
            data += chunk
    return value.encode() in data

for spacing in (1.1, 0.3):
    latencies = []
    for round in range(rounds):
        value = f"s{int(spacing * 10)}-{round:04d}".ljust(43, "x")  # base64url characters only, as /update wants
        replied = update(value)
        while not txt_on_knot(value):
            if time.perf_counter() - replied > 10: sys.exit(f"{value} never reached knotd")
            time.sleep(0.0005)
        latencies.append(time.perf_counter() - replied)
        time.sleep(spacing)
    latencies.sort()
    print(f"/update reply to the value on knotd, {rounds} rounds {spacing} s apart: median {statistics.median(latencies) * 1000:.1f} ms, "
          f"p90 {latencies[int(len(latencies) * 0.9)] * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms [targets: median < 50 ms, max < 1000 ms]")
PY
grep -c "kind=ixfr " "$work/cdnsd.log" >/dev/null 2>&1 || true
