#!/usr/bin/env python3
"""Signed RFC 2136 UPDATE load over TCP, for Scripts/bench-update.sh.

Each of CONCURRENCY workers holds one TCP connection and its own TSIG key
(bench0., bench1., ...), and sends UPDATEs one after the other, waiting for
each reply (a closed loop, as ACME clients do): publish a challenge value,
then delete it again, at names of its own. Prints one JSON object: updates
applied (NOERROR) and per second, latency percentiles (ms) of every reply,
and the count of each rcode.

    update-load.py --port P --zone svc.bench --secrets FILE --concurrency 8 --seconds 20

FILE holds one base64 secret per line (key i is bench<i>.). TSIG (RFC 8945)
is computed here with hmac-sha256 from the standard library.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import socket
import struct
import threading
import time


def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


ALGORITHM = wire_name("hmac-sha256")


def update_message(msg_id, zone, owner, value, delete):
    header = struct.pack("!HHHHHH", msg_id, 5 << 11, 1, 0, 1, 0)  # opcode UPDATE, ZOCOUNT 1, UPCOUNT 1
    zone_section = wire_name(zone) + struct.pack("!HH", 6, 1)  # SOA, IN
    txt = value.encode()
    rdata = bytes([len(txt)]) + txt
    rr_class, ttl = (254, 0) if delete else (1, 60)  # NONE deletes one RR (RFC 2136 2.5.4)
    update = wire_name(owner) + struct.pack("!HHIH", 16, rr_class, ttl, len(rdata)) + rdata
    return header + zone_section + update


def sign(message, key_name, secret, msg_id, now, fudge=300):
    """Appends a TSIG record (RFC 8945 4.2) to an unsigned message."""
    key = wire_name(key_name)
    time48 = struct.pack("!Q", now)[2:]
    variables = key + struct.pack("!HI", 255, 0) + ALGORITHM + time48 + struct.pack("!HHH", fudge, 0, 0)
    mac = hmac.new(secret, message + variables, hashlib.sha256).digest()
    rdata = ALGORITHM + time48 + struct.pack("!HH", fudge, len(mac)) + mac + struct.pack("!HHH", msg_id, 0, 0)
    record = key + struct.pack("!HHIH", 250, 255, 0, len(rdata)) + rdata
    arcount = struct.unpack("!H", message[10:12])[0] + 1
    return message[:10] + struct.pack("!H", arcount) + message[12:] + record


def read_exactly(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 5: "REFUSED", 9: "NOTAUTH"}


def worker(index, args, secret, deadline, results, start_barrier):
    sock = socket.create_connection((args.host, args.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    latencies = []
    rcodes = {}
    interval = args.concurrency / args.rate if args.rate > 0 else 0
    start_barrier.wait()
    next_send = time.perf_counter()
    i = 0
    while time.perf_counter() < deadline:
        if interval:
            pause = next_send - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            next_send += interval
        owner = f"_acme-challenge.w{index}-{(i // 2) % 50}.{args.zone}"
        value = f"bench-{index}-{i // 2:08d}-abcdefghijklmnopqrstuvwxyz0123"
        msg_id = i & 0xFFFF
        message = sign(update_message(msg_id, args.zone, owner, value, delete=i % 2 == 1), f"bench{index}", secret, msg_id, int(time.time()))
        started = time.perf_counter()
        sock.sendall(struct.pack("!H", len(message)) + message)
        length = struct.unpack("!H", read_exactly(sock, 2))[0]
        reply = read_exactly(sock, length)
        latencies.append(time.perf_counter() - started)
        rcode = RCODES.get(reply[3] & 0x0F, str(reply[3] & 0x0F))
        rcodes[rcode] = rcodes.get(rcode, 0) + 1
        i += 1
    sock.close()
    results[index] = (latencies, rcodes)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--zone", default="svc.bench")
    parser.add_argument("--secrets", required=True)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=0, help="total updates per second to aim at (0: as fast as replies come)")
    args = parser.parse_args()
    with open(args.secrets) as f:
        secrets = [base64.b64decode(line.strip()) for line in f if line.strip()]
    barrier = threading.Barrier(args.concurrency + 1)
    results = [None] * args.concurrency
    deadline = time.perf_counter() + args.seconds + 0.5
    threads = [threading.Thread(target=worker, args=(i, args, secrets[i], deadline, results, barrier)) for i in range(args.concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies = sorted(l for result in results for l in result[0])
    rcodes = {}
    for result in results:
        for code, count in result[1].items():
            rcodes[code] = rcodes.get(code, 0) + count

    def percentile(p):
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 3) if latencies else None

    # Only updates the server applied count; any other rcode is shown apart.
    applied = rcodes.get("NOERROR", 0)
    print(json.dumps({
        "concurrency": args.concurrency, "updates": applied, "seconds": round(elapsed, 2),
        "updates_per_second": round(applied / elapsed, 1), "p50_ms": percentile(0.50), "p99_ms": percentile(0.99),
        "max_ms": round(latencies[-1] * 1000, 3) if latencies else None, "rcodes": rcodes,
        # This process's own CPU, which it takes from whatever shares its core.
        "cpu_percent": round(100 * (os.times().user + os.times().system) / elapsed, 1),
    }))


if __name__ == "__main__":
    main()
