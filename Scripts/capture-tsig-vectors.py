#!/usr/bin/env python3
"""Capture TSIG-signed UPDATE vectors from real tools: the exact bytes
nsupdate (BIND 9.18) and knsupdate (Knot 3.2) send, and the exact signed
bytes knotd answers.

Usage: capture-tsig-vectors.py OUT_DIR

Starts its own knotd on 127.0.0.1:25363 (zone svc.test, keys nsupdate-key.
hmac-sha256 and knsupdate-key. hmac-sha512, an update ACL limited to TXT
below svc.test), relays each tool's UDP message through 127.0.0.1:25364 and
writes NAME.request.hex and NAME.response.hex. Times signed are the capture
time, so re-capturing changes the bytes.
"""
import os, socket, subprocess, sys, tempfile, threading, time

out_dir = sys.argv[1]
KNOT, RELAY = 25363, 25364
KEYS = {
    "nsupdate-key.": ("hmac-sha256", "dmVjdG9yLWtleS1mb3ItbnN1cGRhdGUtaG1hYy1zaGEyNTY="),
    "knsupdate-key.": ("hmac-sha512", "dmVjdG9yLWtleS1mb3Ita25zdXBkYXRlLWhtYWMtc2hhNTEyLXdpdGgtNjQtYnl0ZXMtb2Ytc2VjcmV0ISE="),
}
CASES = [
    ("nsupdate-add", ["nsupdate", "-y", "hmac-sha256:nsupdate-key.:" + KEYS["nsupdate-key."][1]],
     "server 127.0.0.1 %d\nzone svc.test\nupdate add _acme-challenge.www.svc.test. 60 TXT \"nsupdate-value\"\nsend\n" % RELAY),
    ("knsupdate-delete", ["knsupdate", "-y", "hmac-sha512:knsupdate-key.:" + KEYS["knsupdate-key."][1]],
     "server 127.0.0.1 %d\nzone svc.test.\nupdate delete _acme-challenge.www.svc.test. TXT \"nsupdate-value\"\nsend\n" % RELAY),
]

work = tempfile.mkdtemp(prefix="tsig-vectors-")
with open(os.path.join(work, "svc.test.zone"), "w") as zone:
    zone.write("svc.test. 3600 IN SOA ns1.svc.test. admin.svc.test. 1 7200 3600 1209600 60\n"
               "svc.test. 3600 IN NS ns1.svc.test.\nns1.svc.test. 3600 IN A 127.0.0.1\n")
keys = "".join("  - id: %s\n    algorithm: %s\n    secret: %s\n" % (name, alg, secret) for name, (alg, secret) in KEYS.items())
with open(os.path.join(work, "knot.conf"), "w") as conf:
    conf.write(f"""server:
    listen: 127.0.0.1@{KNOT}
    rundir: {work}
database:
    storage: {work}/db
key:
{keys}acl:
  - id: update
    key: [{", ".join(KEYS)}]
    action: update
    update-type: [TXT]
    update-owner: name
    update-owner-match: sub
    update-owner-name: [svc.test.]
zone:
  - domain: svc.test
    file: {work}/svc.test.zone
    storage: {work}
    zonefile-sync: -1
    acl: update
log:
  - target: stderr
    any: warning
""")
os.makedirs(os.path.join(work, "db"))
knotd = subprocess.Popen(["knotd", "-c", os.path.join(work, "knot.conf")])
time.sleep(1.5)

def relay(name):
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", RELAY))
    server.settimeout(10)
    request, client = server.recvfrom(65535)
    upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    upstream.settimeout(5)
    upstream.sendto(request, ("127.0.0.1", KNOT))
    response = upstream.recv(65535)
    server.sendto(response, client)
    server.close()
    for kind, data in (("request", request), ("response", response)):
        with open(os.path.join(out_dir, f"{name}.{kind}.hex"), "w") as f:
            f.write(data.hex() + "\n")

try:
    for name, command, script in CASES:
        thread = threading.Thread(target=relay, args=(name,))
        thread.start()
        time.sleep(0.2)
        result = subprocess.run(command, input=script, text=True, capture_output=True, timeout=20)
        thread.join()
        print(name, "exit", result.returncode, result.stdout.strip(), result.stderr.strip())
finally:
    knotd.terminate()
    knotd.wait()
