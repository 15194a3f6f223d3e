#!/usr/bin/env python3
"""DNS fault-injection cases against a running cdnsd, each printing its figures.

Started by Scripts/faults.sh (which raises the file-descriptor limit); it
starts one cdnsd on loopback high ports with a throw-away configuration,
runs the cases, stops it by PID and exits non-zero when a case fails its
(generous) pass limit. Sources other than 127.0.0.1 are other loopback
addresses (all of 127/8 is local on Linux), so per-prefix limits and RRL
see distinct clients.

  faults.py --cdnsd PATH [--case NAME ...] [--quick]
"""
import argparse
import os
import random
import selectors
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ZONE = "fault.test"
RRL_RATE = 200
IDLE_TIMEOUT = 10
MESSAGE_TIMEOUT = 2
TCP_CONNECTIONS = 1000
PER_PREFIX = 100


def free_port():
    # Below the ephemeral range, so that none of the thousands of client
    # connections below can take it.
    for _ in range(200):
        port = random.randint(20000, 30000)
        ok = True
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            s = socket.socket(socket.AF_INET, kind)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return port
    raise RuntimeError("no free port")


def encode_name(name):
    out = b""
    for label in name.strip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(name, qtype=1, qid=None, edns=None):
    qid = random.randint(0, 65535) if qid is None else qid
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1 if edns else 0)
    body = encode_name(name) + struct.pack(">HH", qtype, 1)
    if edns:
        body += b"\0" + struct.pack(">HHIH", 41, edns, 0, 0)
    return header + body


def parse_header(data):
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", data[:12])
    return {"id": qid, "tc": bool(flags & 0x0200), "rcode": flags & 0xF, "an": an}


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return -1


class Server:
    def __init__(self, cdnsd):
        self.dir = tempfile.mkdtemp(prefix="cdnsd-faults.")
        self.port = free_port()
        self.api = free_port()
        big = " ".join('\\"' + chr(ord("a") + i) * 200 + '\\"' for i in range(5))
        config = f"""
[dns]
listen = ["127.0.0.1:{self.port}"]
tcp_idle_timeout = {IDLE_TIMEOUT}
tcp_message_timeout = {MESSAGE_TIMEOUT}
tcp_connections = {TCP_CONNECTIONS}
tcp_connections_per_prefix = {PER_PREFIX}
rrl_rate = {RRL_RATE}
rrl_slip = 2
rrl_exempt = ["127.0.0.1/32"]

[api]
listen = "127.0.0.1:{self.api}"

[storage]
engine = "memory"

[log]
level = "warning"

[[zone]]
name = "{ZONE}"
nameservers = ["ns1.{ZONE}"]
admin = "admin.{ZONE}"
ttl = 300
records = [
  "ns1.{ZONE}. A 127.0.0.1",
  "www.{ZONE}. A 10.0.0.1",
  "big.{ZONE}. TXT {big}",
]
"""
        path = os.path.join(self.dir, "cdnsd.toml")
        with open(path, "w") as f:
            f.write(config)
        self.log = open(os.path.join(self.dir, "cdnsd.log"), "w+")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CDNS_")}
        self.process = subprocess.Popen([cdnsd, "serve", "--config", path], cwd=self.dir, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.pid = self.process.pid
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"cdnsd exited: {self.output()}")
            if udp_ask(self.port, "www." + ZONE, timeout=0.5) is not None:
                return
            time.sleep(0.2)
        raise RuntimeError("cdnsd did not answer within 60 s")

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-4000:]

    def alive(self):
        return self.process.poll() is None

    def metrics(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.api}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return {}
        values = {}
        for line in text.splitlines():
            if line.startswith("#") or " " not in line:
                continue
            key, value = line.rsplit(" ", 1)
            try:
                values[key] = float(value)
            except ValueError:
                pass
        return values

    def stop(self):
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        subprocess.run(["rm", "-rf", self.dir])


def udp_size(port, name, qtype, edns=None):
    """The size of the answer, asked from 127.0.0.1 (exempt from rate limiting)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        s.sendto(query(name, qtype, edns=edns), ("127.0.0.1", port))
        return len(s.recv(65535))
    except OSError:
        return 0
    finally:
        s.close()


def udp_ask(port, name, qtype=1, timeout=1.0, source="127.0.0.1", edns=None):
    """The reply's header and the elapsed seconds, or None on timeout."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((source, 0))
        s.settimeout(timeout)
        q = query(name, qtype, edns=edns)
        start = time.perf_counter()
        s.sendto(q, ("127.0.0.1", port))
        while True:
            data = s.recv(65535)
            if len(data) >= 12 and data[:2] == q[:2]:
                return parse_header(data), time.perf_counter() - start
    except OSError:
        return None
    finally:
        s.close()


def recv_exactly(s, count):
    data = b""
    while len(data) < count:
        chunk = s.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def tcp_ask(port, name, qtype=1, timeout=2.0, source="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((source, 0))
        s.settimeout(timeout)
        start = time.perf_counter()
        s.connect(("127.0.0.1", port))
        q = query(name, qtype)
        s.sendall(struct.pack(">H", len(q)) + q)
        length = struct.unpack(">H", recv_exactly(s, 2))[0]
        data = recv_exactly(s, length)
        return parse_header(data), time.perf_counter() - start
    except OSError:
        return None
    finally:
        s.close()


def open_idle(port, count, sources, connect_timeout=5.0):
    """Opens `count` TCP connections that never send, spread over `sources`."""
    sockets = []
    selector = selectors.DefaultSelector()
    batch = 500
    for start in range(0, count, batch):
        pending = []
        for index in range(start, min(count, start + batch)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            try:
                s.bind((sources[index % len(sources)], 0))
                s.connect_ex(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            selector.register(s, selectors.EVENT_WRITE)
            pending.append(s)
        deadline = time.time() + connect_timeout
        waiting = set(pending)
        while waiting and time.time() < deadline:
            for key, _ in selector.select(timeout=0.2):
                selector.unregister(key.fileobj)
                waiting.discard(key.fileobj)
        for s in waiting:
            selector.unregister(s)
        sockets.extend(pending)
    selector.close()
    return sockets


def still_open(sockets):
    """How many of `sockets` the server has not closed."""
    count = 0
    for s in sockets:
        try:
            data = s.recv(1, socket.MSG_DONTWAIT)
            if data:
                count += 1
        except BlockingIOError:
            count += 1
        except OSError:
            pass
    return count


def close_all(sockets):
    for s in sockets:
        try:
            s.close()
        except OSError:
            pass


def prefix_sources(first, count, hosts=250):
    """`count` addresses 127.FIRST.x.y, `hosts` per /24."""
    return [f"127.{first}.{i // hosts}.{i % hosts + 1}" for i in range(count)]


def percent(part, whole):
    return 100.0 * part / whole if whole else 0.0


STORM_CODE = r'''
import os, random, socket, struct, sys, time
port, seconds, first = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
rng = random.Random(first)
def name(n):
    return b"".join(bytes([len(l)]) + l for l in n) + b"\0"
base = struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0) + name([b"www", b"fault", b"test"]) + struct.pack(">HH", 1, 1)
packets = []
for i in range(4096):
    kind = i % 6
    if kind == 0:      # random bytes
        p = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
    elif kind == 1:    # truncated header or question
        p = base[:rng.randint(0, len(base) - 1)]
    elif kind == 2:    # a compression pointer to itself
        p = struct.pack(">HHHHHH", i, 0, 1, 0, 0, 0) + b"\xc0\x0c" + struct.pack(">HH", 1, 1)
    elif kind == 3:    # two pointers pointing at each other
        p = struct.pack(">HHHHHH", i, 0, 1, 0, 0, 0) + b"\x01a\xc0\x0e\xc0\x0c" + struct.pack(">HH", 1, 1)
    elif kind == 4:    # huge section counts
        p = struct.pack(">HHHHHH", i, 0, 65535, 65535, 65535, 65535) + base[12:]
    else:              # mutated valid query
        b = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.getrandbits(8)
        p = bytes(b)
    packets.append(p)
socks = []
for k in range(16):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((f"127.{first}.{k}.1", 0))
    s.setblocking(False)
    socks.append(s)
target = ("127.0.0.1", port)
sent = 0
end = time.time() + seconds
n = len(packets)
while time.time() < end:
    for j in range(2000):
        try:
            socks[j & 15].sendto(packets[(sent + j) % n], target)
        except OSError:
            pass
    sent += 2000
    for s in socks:   # drop what comes back
        try:
            while s.recv(65535):
                pass
        except OSError:
            pass
print(sent)
'''


def measure_client(port, seconds, interval=0.01, name="www." + ZONE):
    """A legitimate client asking every `interval` s for `seconds`: latencies of the answered, and how many were asked."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sent_at = {}
    latencies = {}
    done = threading.Event()

    def receive():
        while not done.is_set():
            try:
                data = s.recv(65535)
            except OSError:
                continue
            now = time.perf_counter()
            if len(data) < 12:
                continue
            qid = struct.unpack(">H", data[:2])[0]
            header = parse_header(data)
            if qid in sent_at and qid not in latencies and header["an"] == 1:
                latencies[qid] = now - sent_at[qid]

    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    count = int(seconds / interval)
    start = time.perf_counter()
    for i in range(count):
        target = start + i * interval
        pause = target - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        sent_at[i] = time.perf_counter()
        try:
            s.sendto(query("www." + ZONE, qid=i), ("127.0.0.1", port))
        except OSError:
            pass
    time.sleep(1.0)
    done.set()
    receiver.join()
    s.close()
    return sorted(latencies.values()), count


def case_storm(server, seconds, strict=False):
    """Malformed-packet storm at the rate one core sends; a legitimate client measures."""
    fds_before, rss_before = fd_count(server.pid), rss_mb(server.pid)
    storm = subprocess.Popen([sys.executable, "-c", STORM_CODE, str(server.port), str(seconds), "30"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    latencies, total = measure_client(server.port, seconds - 0.8)
    sent = int((storm.communicate()[0] or "0").strip() or 0)
    fast = sum(1 for l in latencies if l <= 0.1)
    p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
    p99 = latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000 if latencies else float("nan")
    alive = server.alive()
    after = udp_ask(server.port, "www." + ZONE, timeout=2.0)
    print(f"storm: {sent} malformed datagrams in {seconds:.0f} s ({sent / seconds:,.0f}/s from one core); "
          f"legitimate client {total} queries (every 10 ms): {percent(fast, total):.1f}% answered within 100 ms, "
          f"{percent(len(latencies), total):.1f}% within 1 s, p50 {p50:.2f} ms, p99 of answered {p99:.2f} ms; "
          f"server {'up' if alive else 'DOWN'}, answers afterwards: {'yes' if after else 'NO'}, "
          f"fds {fds_before} -> {fd_count(server.pid)}, RSS {rss_before:.0f} -> {rss_mb(server.pid):.0f} MB")
    if strict:  # issue 15's acceptance, for a release build on a quiet machine
        return alive and after is not None and percent(fast, total) >= 99.0
    # In Scripts/test.sh (a debug build on a shared machine, which one core's
    # storm overloads): the process stays up, keeps its fds, answers afterwards.
    return alive and after is not None and fd_count(server.pid) <= fds_before + 8


def case_idle_10k(server, count=10000):
    """10,000 idle TCP connections, then a legitimate TCP and UDP query; idle ones closed after the timeout."""
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], fd_count(server.pid))
            time.sleep(0.05)

    base = fd_count(server.pid)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.time()
    sockets = open_idle(server.port, count, prefix_sources(10, count))
    opened = time.time() - start
    tcp = tcp_ask(server.port, "www." + ZONE, timeout=2.0)
    udp = udp_ask(server.port, "www." + ZONE, timeout=2.0)
    time.sleep(0.5)
    gauge = server.metrics().get("cdnsd_dns_tcp_connections", -1)
    time.sleep(IDLE_TIMEOUT + 1.5)
    stop.set()
    sampler.join()
    gauge_after = server.metrics().get("cdnsd_dns_tcp_connections", -1)
    fds_after = fd_count(server.pid)
    close_all(sockets)
    # Connections being closed to make room still hold their fd for a moment.
    cap = base + int(TCP_CONNECTIONS * 1.1)
    print(f"idle 10k: {len(sockets)} idle connections opened in {opened:.1f} s, server holds {gauge:.0f} (cap {TCP_CONNECTIONS}); "
          f"new TCP query {'answered in %.1f ms' % (tcp[1] * 1000) if tcp else 'NOT answered'}, "
          f"UDP {'answered in %.1f ms' % (udp[1] * 1000) if udp else 'NOT answered'}; "
          f"server fds {base} before, peak {peak[0]} (pass limit {cap}, RLIMIT_NOFILE {os.sysconf('SC_OPEN_MAX')}); "
          f"{IDLE_TIMEOUT + 1.5:.1f} s later the server holds {gauge_after:.0f} connections, {fds_after} fds")
    return tcp is not None and udp is not None and peak[0] <= cap and gauge <= TCP_CONNECTIONS and gauge_after == 0


def case_idle_2k(server, count=2000):
    """2,000 idle TCP connections held open, then 10 new TCP queries at once."""
    sockets = open_idle(server.port, count, prefix_sources(11, count, hosts=PER_PREFIX))
    time.sleep(0.5)
    held = server.metrics().get("cdnsd_dns_tcp_connections", -1)
    results = [None] * 10

    def ask(i):
        results[i] = tcp_ask(server.port, "www." + ZONE, timeout=2.0, source=f"127.0.1.{i + 1}")

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(10)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    answered = [r for r in results if r and r[0]["an"] == 1]
    worst = max((r[1] for r in answered), default=float("nan")) * 1000
    close_all(sockets)
    print(f"idle 2k: {count} idle connections (server holds {held:.0f}, cap {TCP_CONNECTIONS}), then {len(answered)}/10 new TCP queries answered at once, "
          f"slowest {worst:.1f} ms, all in {wall * 1000:.0f} ms")
    return len(answered) == 10 and worst <= 1000


def case_slowloris(server, count=200):
    """Connections sending one byte a second on TCP 53."""
    sources = prefix_sources(12, count, hosts=PER_PREFIX)
    socks = []
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((sources[i], 0))
        s.settimeout(2)
        s.connect(("127.0.0.1", server.port))
        s.setblocking(False)
        socks.append(s)
    q = query("www." + ZONE)
    stream = struct.pack(">H", len(q)) + q
    start = time.time()
    closed_at = {}
    position = 0
    legit = None
    while len(closed_at) < count and time.time() - start < IDLE_TIMEOUT + 5:
        for i, s in enumerate(socks):
            if i in closed_at:
                continue
            try:
                if s.recv(1) == b"":
                    closed_at[i] = time.time() - start
                    continue
            except BlockingIOError:
                pass
            except OSError:
                closed_at[i] = time.time() - start
                continue
            try:
                s.send(stream[position:position + 1])
            except OSError:
                closed_at[i] = time.time() - start
        position = min(position + 1, len(stream) - 1)
        if legit is None and time.time() - start > 1:
            legit = tcp_ask(server.port, "www." + ZONE, timeout=2.0)
        time.sleep(1.0)
    close_all(socks)
    times = sorted(closed_at.values())
    print(f"slowloris: {count} connections sending 1 byte/s; {len(times)} closed by the server, "
          f"median after {statistics.median(times) if times else float('nan'):.1f} s, last after {times[-1] if times else float('nan'):.1f} s "
          f"(message timeout {MESSAGE_TIMEOUT} s, idle {IDLE_TIMEOUT} s); legitimate TCP query meanwhile "
          f"{'answered in %.1f ms' % (legit[1] * 1000) if legit else 'NOT answered'}")
    return len(times) == count and times[-1] <= IDLE_TIMEOUT and legit is not None


RRL_FLOOD = r'''
import socket, struct, sys, time
port, seconds, rate = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
name = b"\x03big\x05fault\x04test\x00"
q = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 1) + name + struct.pack(">HH", 16, 1) + b"\x00" + struct.pack(">HHIH", 41, 4096, 0, 0)
socks = []
for k in range(64):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((f"127.0.2.{k + 1}", 0))
    s.setblocking(False)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    socks.append(s)
target = ("127.0.0.1", port)
sent = bytes_in = 0
full = {}
slipped = {}
# Start on a whole second of CLOCK_MONOTONIC, the clock cdnsd's rate limiter
# counts in, so that these per-second counts line up with its seconds.
# (20 ms in: the coarse clock it reads lags by a few ms.)
first = int(time.monotonic()) + 1
time.sleep(max(first + 0.02 - time.monotonic(), 0))
start = time.time()
print("started", flush=True)
def drain():
    global bytes_in
    now = int(time.monotonic()) - first
    for s in socks:
        try:
            while True:
                data = s.recv(65535)
                bytes_in += len(data)
                bucket = slipped if data[2] & 0x02 else full
                bucket[now] = bucket.get(now, 0) + 1
        except OSError:
            pass
while time.time() - start < seconds:
    due = int((time.time() - start) * rate)
    while sent < due:
        try:
            socks[sent & 63].sendto(q, target)
        except OSError:
            pass
        sent += 1
    drain()
    time.sleep(0.001)
end = time.time()
time.sleep(0.3)
drain()
whole = [full.get(i, 0) for i in range(int(seconds))]
print(sent, sum(full.values()), sum(slipped.values()), bytes_in, len(q), end - start, max(whole), " ".join(map(str, whole)))
'''


def resolve_like_a_resolver(port, source, tries=12):
    """UDP with retries; on TC the same question over TCP. Returns 'udp', 'tcp' or why not."""
    for _ in range(tries):
        reply = udp_ask(port, "big." + ZONE, qtype=16, timeout=0.1, source=source, edns=1232)
        if reply is None:
            continue
        if reply[0]["tc"]:
            answer = tcp_ask(port, "big." + ZONE, qtype=16, timeout=2.0, source=source)
            return "tcp" if answer and answer[0]["an"] > 0 else f"failed: TCP after TC gave {answer}"
        if reply[0]["an"] > 0:
            return "udp"
        return f"failed: UDP reply {reply[0]}"
    return f"failed: {tries} UDP tries unanswered"


def case_rrl(server, seconds=5.0, rate=20000):
    """A flood spoofing 64 hosts of one /24 (the victim) asks for a large TXT with EDNS."""
    unlimited = udp_size(server.port, "big." + ZONE, 16, edns=4096)
    before = server.metrics()
    flood = subprocess.Popen([sys.executable, "-c", RRL_FLOOD, str(server.port), str(seconds), str(rate)], stdout=subprocess.PIPE, text=True)
    flood.stdout.readline()
    time.sleep(0.2)
    outcomes = []
    dig = []
    for i in range(20):
        outcomes.append(resolve_like_a_resolver(server.port, f"127.0.2.{200 + i % 50}"))
        if i % 4 == 0:  # a real resolver's stub: dig retries over TCP on TC
            try:
                result = subprocess.run(["dig", "@127.0.0.1", "-p", str(server.port), "-b", f"127.0.2.{250 + i // 4}", "+tries=5", "+time=1",
                                         "big." + ZONE, "TXT"], capture_output=True, text=True, timeout=20)
                resolved = "status: NOERROR" in result.stdout and "ANSWER: 1," in result.stdout
                dig.append(("tcp" if "retrying in TCP mode" in result.stdout + result.stderr else "udp") if resolved else None)
            except (OSError, subprocess.TimeoutExpired):
                dig.append(None)
        time.sleep(0.05)
    out = (flood.communicate()[0] or "").split()
    if len(out) < 7:
        raise RuntimeError(f"the flood printed {out}")
    sent, full, slipped, bytes_in, qsize, elapsed, peak = int(out[0]), int(out[1]), int(out[2]), int(out[3]), int(out[4]), float(out[5]), int(out[6])
    per_second = out[7:]
    after = server.metrics()

    def delta(key):
        return after.get(key, 0) - before.get(key, 0)

    slipped_metric = delta('cdnsd_dns_rrl_limited_total{action="slipped"}')
    dropped_metric = delta('cdnsd_dns_rrl_limited_total{action="dropped"}')
    # The server's seconds (coarse monotonic) and the flood's do not line
    # up, and replies to the last queries land up to a few ms after the
    # flood stops: its 5 s touch up to 7 of the server's seconds.
    total_limit = RRL_RATE * (int(elapsed) + 2)
    resolved = [o for o in outcomes if o in ("udp", "tcp")]
    for failure in sorted(set(o for o in outcomes if o not in ("udp", "tcp"))):
        print(f"rrl: resolver {failure}")
    dig_ok = [o for o in dig if o]
    print(f"rrl: flood of {sent} queries ({sent / elapsed:,.0f}/s, {qsize} bytes each) from 64 hosts of 127.0.2.0/24 for a {unlimited}-byte TXT answer: "
          f"victim got full answers per second {' '.join(per_second)} (peak {peak}, rrl_rate {RRL_RATE}; {full} in all, limit {total_limit:.0f}) and {slipped / elapsed:.0f} truncated/s; "
          f"bytes to victim / bytes sent {bytes_in / max(sent * qsize, 1):.2f} (unlimited: {unlimited / qsize:.0f}x); "
          f"server counted {slipped_metric:.0f} slipped, {dropped_metric:.0f} dropped; "
          f"resolver in the victim's /24: {len(resolved)}/20 resolved ({resolved.count('tcp')} via TC+TCP); "
          f"dig: {len(dig_ok)}/5 resolved ({dig_ok.count('tcp')} via TCP)")
    # Pass limits: no second with more full answers than the rate (10%
    # for the two clocks' seconds not lining up), no more in all than the
    # server's seconds allow, and the resolvers resolve.
    # Each UDP try of theirs is slipped (TC, then TCP) or dropped at random,
    # half and half with rrl_slip 2: a lookup fails when all its tries are
    # dropped (1 in 4096 for the 12 tries here, 1 in 32 for dig's 5).
    return peak <= RRL_RATE * 1.1 and full <= total_limit and len(resolved) >= 19 and len(dig_ok) >= 4


CASES = {
    "storm": case_storm,
    "idle10k": case_idle_10k,
    "idle2k": case_idle_2k,
    "slowloris": case_slowloris,
    "rrl": case_rrl,
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cdnsd", required=True)
    parser.add_argument("--case", action="append", choices=sorted(CASES))
    parser.add_argument("--storm-seconds", type=float, default=5.0)
    parser.add_argument("--strict", action="store_true", help="apply issue 15's acceptance limits (release build, quiet machine)")
    args = parser.parse_args()
    names = args.case or ["storm", "idle2k", "idle10k", "slowloris", "rrl"]
    server = Server(os.path.abspath(args.cdnsd))
    failed = []
    try:
        for name in names:
            started = time.time()
            try:
                ok = CASES[name](server, args.storm_seconds, args.strict) if name == "storm" else CASES[name](server)
            except Exception as error:  # a case that cannot run fails
                print(f"{name}: error: {error!r}")
                ok = False
            print(f"  {name}: {'ok' if ok else 'FAILED'} ({time.time() - started:.1f} s)")
            if not ok:
                failed.append(name)
            if not server.alive():
                print("cdnsd died:\n" + server.output())
                failed.append("alive")
                break
            time.sleep(0.5)
    finally:
        server.stop()
    if failed:
        print(f"faults: FAILED {', '.join(failed)}")
        sys.exit(1)
    print("faults: all cases passed")


if __name__ == "__main__":
    main()
