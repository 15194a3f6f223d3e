#!/usr/bin/env python3
"""Capture DNS test vectors from real tools: the exact bytes dig and kdig send,
and the exact bytes knotd answers.

Usage: capture-vectors.py KNOT_PORT OUT_DIR

Needs a knotd serving Tests/DNSWireTests/Vectors/svc.test.zone on
127.0.0.1:KNOT_PORT with the TSIG key `tsig-key.` (see the Vectors README).
A UDP relay on 127.0.0.1:KNOT_PORT+1 sits between the tool and knotd and writes
each query and response as hex, one file per message.
"""
import os, socket, subprocess, sys, threading

knot_port = int(sys.argv[1])
out_dir = sys.argv[2]
relay_port = knot_port + 1
TSIG = "hmac-sha256:tsig-key.:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="

CASES = [
    # name, command (the relay address is appended by the tool flags below)
    ("dig-a", ["dig", "+norec", "www.svc.test", "A"]),
    ("dig-aaaa", ["dig", "+norec", "www.svc.test", "AAAA"]),
    ("dig-mx", ["dig", "+norec", "mail.svc.test", "MX"]),
    ("dig-srv", ["dig", "+norec", "_https._tcp.svc.test", "SRV"]),
    ("dig-cname", ["dig", "+norec", "alias.svc.test", "A"]),
    ("dig-ptr", ["dig", "+norec", "ptr.svc.test", "PTR"]),
    ("dig-txt", ["dig", "+norec", "txt.svc.test", "TXT"]),
    ("dig-txt-long", ["dig", "+norec", "+bufsize=4096", "long.svc.test", "TXT"]),
    ("dig-caa", ["dig", "+norec", "svc.test", "CAA"]),
    ("dig-soa", ["dig", "+norec", "svc.test", "SOA"]),
    ("dig-ns", ["dig", "+norec", "svc.test", "NS"]),
    ("dig-unknown", ["dig", "+norec", "opaque.svc.test", "TYPE65280"]),
    ("dig-wildcard", ["dig", "+norec", "anything.svc.test", "A"]),
    ("dig-nxdomain", ["dig", "+norec", "nope.ns1.svc.test", "A"]),
    ("kdig-a", ["kdig", "+norec", "www.svc.test", "A"]),
    ("kdig-noedns", ["kdig", "+norec", "+noedns", "WwW.SvC.TeSt", "A"]),
    ("kdig-tsig", ["kdig", "+norec", "-y", TSIG, "www.svc.test", "A"]),
]


def relay_once(listener, results):
    query, client = listener.recvfrom(65535)
    upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    upstream.settimeout(5)
    upstream.sendto(query, ("127.0.0.1", knot_port))
    response, _ = upstream.recvfrom(65535)
    listener.sendto(response, client)
    results.extend([query, response])


def main():
    os.makedirs(out_dir, exist_ok=True)
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", relay_port))
    for name, command in CASES:
        results = []
        thread = threading.Thread(target=relay_once, args=(listener, results))
        thread.start()
        tool = command[0]
        flags = ["@127.0.0.1", "-p", str(relay_port)]
        if tool == "dig":
            flags.append("+tries=1")
        printed = subprocess.run(command[:1] + flags + command[1:], capture_output=True, text=True, timeout=10).stdout
        thread.join(10)
        query, response = results
        for direction, data, who in (("query", query, tool), ("response", response, "knotd 3.2")):
            with open(os.path.join(out_dir, f"{name}.{direction}.hex"), "w") as f:
                f.write(f"# {who} {direction}: {' '.join(command)} (captured by Scripts/capture-vectors.py)\n")
                f.write(data.hex() + "\n")
        with open(os.path.join(out_dir, f"{name}.{tool}.txt"), "w") as f:
            f.write(printed)


main()
