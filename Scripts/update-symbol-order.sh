#!/usr/bin/env bash
# Records which functions a running cdnsd executes and writes them to Scripts/cdnsd.order, the
# link order Scripts/build-release.sh gives lld (Docs/performance.md, "Memory"):
#
#   Scripts/update-symbol-order.sh [swift build options]   (default: --scratch-path .build-static,
#                                                           where Benchmarks/dns-throughput.sh builds)
#
# Builds cdnsd as it ships, runs it under valgrind's callgrind with the demo zone (SQLite, API
# on loopback high ports) and drives what a running daemon does: start-up, DNS over UDP and
# TCP with and without EDNS (answers, wildcards, NODATA, NXDOMAIN, REFUSED, SOA, NS, TXT),
# the acme-dns API (/health, /register, /update, /metrics) and a clean shutdown. Every
# function callgrind saw in cdnsd's own binary, in the order it lists them, becomes the order.
# Run it after changes that move the daemon's start-up or query path; a stale order only costs
# memory, never correctness. The order of the names matters too (the committed order idles at
# 21.7 MB, the same names sorted at 23.0-23.3 MB), and callgrind's listing follows the layout of
# the binary it ran, so a new recording can come out worse: compare
# `PARTS=memory Benchmarks/dns-throughput.sh` with the old and the new order before keeping one.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null 2>&1 || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null
}
build_options=("$@")
[ $# -gt 0 ] || build_options=(--scratch-path "$PWD/.build-static")
binary="$(Scripts/build-release.sh "${build_options[@]}" | tail -1)"
work="$(mktemp -d /tmp/cdnsd-symbol-order.XXXXXX)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
# valgrind cannot read the DWARF of this binary; the symbol table is all callgrind needs.
objcopy --strip-debug "$binary" "$work/cdnsd"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$work" && exec env CDNS_DNS_LISTEN="127.0.0.1:$port" CDNS_API_LISTEN="127.0.0.1:$((port + 1))" \
    valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" --dump-instr=no \
    --compress-strings=no --compress-pos=no --demangle=no "$work/cdnsd") >"$work/cdnsd.log" 2>&1 &
pid=$!
python3 - "$port" <<'PY'
import json, socket, struct, sys, time, urllib.request
port = int(sys.argv[1]); api = f"http://127.0.0.1:{port + 1}"
def query(name, qtype, tcp=False, edns=True):
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p)
    opt = b"\0" + struct.pack(">HHIH", 41, 1232, 0, 0) if edns else b""
    message = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 1 if edns else 0) + labels + b"\0" + struct.pack(">HH", qtype, 1) + opt
    if tcp:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(struct.pack(">H", len(message)) + message)
            length = struct.unpack(">H", s.recv(2))[0]
            return s.recv(length)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(30); s.sendto(message, ("127.0.0.1", port)); return s.recv(4096)
deadline = time.time() + 300
while True:
    try:
        query("www.demo.test", 1); break
    except OSError:
        if time.time() > deadline: sys.exit("cdnsd did not answer under valgrind within 300 s")
        time.sleep(0.5)
questions = [("www.demo.test", 1), ("demo.test", 6), ("demo.test", 2), ("www.demo.test", 28),
             ("nope.demo.test", 1), ("a.b.demo.test", 1), ("_acme-challenge.demo.test", 16), ("example.com", 1)]
for _ in range(20):
    for name, qtype in questions:
        for tcp, edns in ((False, True), (False, False), (True, True)):
            query(name, qtype, tcp, edns)
def call(path, body=None, headers={}):
    request = urllib.request.Request(api + path, data=body, headers=headers, method="POST" if body is not None else "GET")
    with urllib.request.urlopen(request, timeout=60) as response: return response.read()
call("/health")
account = json.loads(call("/register", b""))
for i in range(5):
    call("/update", json.dumps({"subdomain": account["subdomain"], "txt": f"{i:043d}"}).encode(),
         {"X-Api-User": account["username"], "X-Api-Key": account["password"]})
    query(f"{account['subdomain']}.demo.test", 16)
call("/metrics")
PY
kill -TERM "$pid"; wait "$pid" || true; pid=""
python3 - "$work/callgrind.out" "$work/cdnsd" Scripts/cdnsd.order <<'PY'
import re, sys
source, binary, target = sys.argv[1:]
names, current = {}, None
for line in open(source, errors="replace"):
    if line.startswith("ob="):
        current = line[3:].strip()
    elif line.startswith("fn=") and current == binary:
        name = re.sub(r"'\d+$", "", line[3:].strip())
        if not name.startswith("0x"):
            names.setdefault(name)
with open(target, "w") as out:
    out.write("# The functions a running cdnsd executes, in the order lld lays them out\n"
              "# (Scripts/build-release.sh). Generated by Scripts/update-symbol-order.sh.\n")
    out.writelines(name + "\n" for name in names)
print(f"{target}: {len(names)} functions")
PY
