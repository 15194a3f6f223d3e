#!/usr/bin/env python3
"""Measurements for Benchmarks/store-scale.sh that need millisecond timing.

  store_probe.py config N DNS_PORT API_PORT ENGINE LOCATION   a TOML config, N static A records
  store_probe.py seed ACCOUNTS CHALLENGES HASH                 SQL inserting accounts and challenges
  store_probe.py first-answer DNS_PORT START_NS                ms from START_NS to the first answer
  store_probe.py visibility API DNS USER KEY SUBDOMAIN FULLDOMAIN COUNT
        ms from sending /update (to API) to the value answered over DNS (by DNS, over TCP)

Only the standard library: raw UDP DNS queries, urllib for HTTP.
"""
import json
import socket
import struct
import sys
import time
import urllib.request


def query(name, qtype, qid=1, edns=False):
    """A query with RD set; with `edns`, an OPT record offering 1232-byte UDP replies."""
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1 if edns else 0)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split("."))
    opt = b"\0" + struct.pack(">HHIH", 41, 1232, 0, 0) if edns else b""
    return header + labels + b"\0" + struct.pack(">HH", qtype, 1) + opt


def txt_values(reply):
    """TXT strings in the answer section of a reply (no compression tricks beyond pointers)."""
    (qid, flags, qd, an, ns, ar) = struct.unpack(">HHHHHH", reply[:12])
    offset = 12

    def skip_name(offset):
        while True:
            length = reply[offset]
            if length & 0xC0 == 0xC0:
                return offset + 2
            if length == 0:
                return offset + 1
            offset += 1 + length

    for _ in range(qd):
        offset = skip_name(offset) + 4
    values = []
    for _ in range(an):
        offset = skip_name(offset)
        rtype, _, _, rdlength = struct.unpack(">HHIH", reply[offset:offset + 10])
        offset += 10
        if rtype == 16:
            end = offset + rdlength
            position = offset
            text = b""
            while position < end:
                size = reply[position]
                text += reply[position + 1:position + 1 + size]
                position += 1 + size
            values.append(text.decode())
        offset += rdlength
    return values


def ask(sock, port, message, timeout=0.05):
    sock.settimeout(timeout)
    sock.sendto(message, ("127.0.0.1", port))
    try:
        return sock.recv(65535)
    except socket.timeout:
        return None


def ask_tcp(port, message, timeout=1.0):
    """One query over its own TCP connection: the account's values accumulate past what UDP carries."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">H", len(message)) + message)
        data = b""
        while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
            chunk = sock.recv(65535)
            if not chunk:
                return None
            data += chunk
        return data[2:]


def config(count, dns_port, api_port, engine, location):
    storage = f'path = "{location}"' if engine == "sqlite" else f'url = "{location}"'
    lines = [
        "[dns]", f'listen = ["127.0.0.1:{dns_port}"]',
        "[api]", f'listen = "127.0.0.1:{api_port}"',
        "[storage]", f'engine = "{engine}"', storage,
        "[log]", 'level = "warning"',
        "[[zone]]", 'name = "svc.test"', 'nameservers = ["ns1.svc.test"]', 'admin = "admin.svc.test"',
        "records = [", '  "www.svc.test. 300 A 10.8.10.1",',
    ]
    lines += [f'  "h{i}.svc.test. 300 A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",' for i in range(count)]
    lines.append("]")
    print("\n".join(lines))


def seed(accounts, challenges, password_hash):
    print("BEGIN;")
    for i in range(accounts):
        print(f"INSERT INTO accounts VALUES ('bench-{i:05d}', '{password_hash}', 'bench-sub-{i:05d}', '');")
    far = 4_000_000_000
    for i in range(challenges):
        print(f"INSERT INTO challenges VALUES ('_acme-challenge.h{i}.svc.test.', 'seed-{i:05d}-{'x' * 32}', 'bench', 0, {far});")
    print("COMMIT;")


def first_answer(port, start_ns):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    message = query("www.svc.test.", 1)
    deadline = time.time() + 60
    while time.time() < deadline:
        if ask(sock, port, message, timeout=0.005):
            print(f"{(time.time_ns() - start_ns) / 1e6:.0f}")
            return
    print("none")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def visibility(api, dns, user, key, subdomain, fulldomain, count):
    delays = []
    for index in range(count):
        value = f"vis{index:04d}{time.time_ns() % 10**9:09d}".ljust(43, "v")[:43]
        body = json.dumps({"subdomain": subdomain, "txt": value}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{api}/update", data=body, method="POST",
                                         headers={"X-Api-User": user, "X-Api-Key": key, "Content-Type": "application/json"})
        start = time.perf_counter()
        urllib.request.urlopen(request, timeout=10).read()
        message = query(fulldomain, 16, qid=index & 0xFFFF)
        while True:
            reply = ask_tcp(dns, message)
            elapsed = (time.perf_counter() - start) * 1000
            if (reply and value in txt_values(reply)) or elapsed > 5000:
                delays.append(elapsed)
                break
    print(f"p50 {percentile(delays, 0.5):.1f} ms, p99 {percentile(delays, 0.99):.1f} ms, max {max(delays):.1f} ms over {count} writes")


if __name__ == "__main__":
    command, arguments = sys.argv[1], sys.argv[2:]
    if command == "config":
        config(int(arguments[0]), arguments[1], arguments[2], arguments[3], arguments[4])
    elif command == "seed":
        seed(int(arguments[0]), int(arguments[1]), arguments[2])
    elif command == "first-answer":
        first_answer(int(arguments[0]), int(arguments[1]))
    elif command == "visibility":
        visibility(int(arguments[0]), int(arguments[1]), *arguments[2:6], int(arguments[6]))
    else:
        sys.exit(__doc__)
