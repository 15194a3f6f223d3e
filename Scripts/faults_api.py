#!/usr/bin/env python3
"""Fault injection on the challenge API and the store, each case printing
its figures (issue 15). Run by Scripts/faults-api.sh (and so by test.sh):

    faults_api.py CDNSD [CASE ...]

Cases: flood, slowloris, kill9, diskfull, postgres, badfile. Every daemon
runs on loopback high ports with its own data directory, and is stopped by
PID. Exits non-zero when an acknowledged write is lost, a legitimate
request fails, or the daemon dies; timings are printed, never asserted
(a timing never decides a test), except that a line says which of the
issue's targets a figure misses.
"""
import http.client
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

CDNSD = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/cdnsd"
FAILURES = []
ZONE = "demo.test"


def fail(message):
    print(f"  FAIL: {message}", flush=True)
    FAILURES.append(message)


def free_port():
    while True:
        port = random.randint(20000, 32000)
        ok = True
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return port


def txt_value(n):
    """43 characters of base64url, unique per n."""
    base = f"v{n:010d}"
    return (base + "x" * 43)[:43]


class Daemon:
    def __init__(self, work, name="cdnsd", engine="sqlite", path=None, url="", env=None):
        self.work = work
        self.name = name
        self.dns_port = free_port()
        self.api_port = free_port()
        self.path = path or os.path.join(work, name, "cdnsd.sqlite")
        self.engine = engine
        self.url = url
        self.extra = env or {}
        self.process = None

    def start(self, wait=True):
        # Without the harness's own CDNS_* variables (CDNS_REQUIRE_INTEGRATION,
        # CDNS_TEST_POSTGRES_URL): cdnsd refuses CDNS_ variables it does not know.
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CDNS_")}
        environment.update({
            "CDNS_DNS_LISTEN": f"127.0.0.1:{self.dns_port}",
            "CDNS_API_LISTEN": f"127.0.0.1:{self.api_port}",
            "CDNS_STORAGE_ENGINE": self.engine,
            "CDNS_STORAGE_PATH": self.path,
            "CDNS_STORAGE_URL": self.url,
            "CDNS_LOG_LEVEL": os.environ.get("FAULTS_LOG_LEVEL", "warning"),
            # The cases count every acknowledged value, so acme-dns /update
            # must not evict any: the largest bound, and values spread over
            # accounts (each name's values fit one DNS message over TCP).
            "CDNS_CHALLENGE_MAX_VALUES_PER_NAME": "1000",
        })
        environment.update(self.extra)
        self.log = open(os.path.join(self.work, f"{self.name}.log"), "ab")
        self.process = subprocess.Popen([CDNSD, "serve"], env=environment, stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            deadline = time.time() + 120
            while time.time() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log.name}")
                try:
                    status, _, _ = request(self.api_port, "GET", "/health", timeout=2)
                    if status in (200, 503):
                        return self
                except OSError:
                    pass
                time.sleep(0.1)
            raise RuntimeError(f"{self.name} did not answer /health")
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def cpu_seconds(self):
        with open(f"/proc/{self.process.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def register(self, source=None):
        for _ in range(20):
            status, body, _ = request(self.api_port, "POST", "/register", body={}, source=source, timeout=60)
            if status == 201:
                return json.loads(body)
            time.sleep(0.5)
        raise RuntimeError(f"/register answered {status}: {body}")


def request(port, method, path, headers=None, body=None, source=None, timeout=10, connection=None):
    """One HTTP request; returns (status, body text, seconds)."""
    own = connection is None
    if own:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                                source_address=(source, 0) if source else None)
    payload = json.dumps(body) if body is not None else None
    started = time.monotonic()
    try:
        connection.request(method, path, body=payload, headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        text = response.read().decode()
        return response.status, text, time.monotonic() - started
    finally:
        if own:
            connection.close()


def update(port, account, txt, source=None, connection=None, timeout=10):
    headers = {"X-Api-User": account["username"], "X-Api-Key": account["password"]}
    return request(port, "POST", "/update", headers=headers, body={"subdomain": account["subdomain"], "txt": txt},
                   source=source, connection=connection, timeout=timeout)


def dns_query(port, name, qtype=16, tcp=False, timeout=1.0):
    """(rcode, [TXT strings]) or None when nothing came back."""
    ident = random.randint(0, 65535)
    question = b"".join(bytes([len(label)]) + label.encode() for label in name.strip(".").split(".")) + b"\0"
    message = struct.pack(">HHHHHH", ident, 0x0000, 1, 0, 0, 0) + question + struct.pack(">HH", qtype, 1)
    try:
        if tcp:
            with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
                s.sendall(struct.pack(">H", len(message)) + message)
                data = b""
                while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
                    chunk = s.recv(65536)
                    if not chunk:
                        return None
                    data += chunk
                reply = data[2:]
        else:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(timeout)
                s.sendto(message, ("127.0.0.1", port))
                reply, _ = s.recvfrom(65536)
    except OSError:
        return None
    if len(reply) < 12 or struct.unpack(">H", reply[:2])[0] != ident:
        return None
    flags, qd, an = struct.unpack(">HHH", reply[2:8])
    offset = 12
    def skip_name(offset):
        while True:
            length = reply[offset]
            if length == 0:
                return offset + 1
            if length & 0xC0 == 0xC0:
                return offset + 2
            offset += 1 + length
    for _ in range(qd):
        offset = skip_name(offset) + 4
    values = []
    for _ in range(an):
        offset = skip_name(offset)
        rtype, _, _, length = struct.unpack(">HHIH", reply[offset:offset + 10])
        offset += 10
        data = reply[offset:offset + length]
        offset += length
        if rtype == 16:
            text, i = b"", 0
            while i < len(data):
                text += data[i + 1:i + 1 + data[i]]
                i += 1 + data[i]
            values.append(text.decode())
    return flags & 0xF, values


class DNSWatch(threading.Thread):
    """Queries the apex SOA over UDP every 20 ms; counts answers."""
    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.sent = self.answered = 0
        self.stop_event = threading.Event()

    def run(self):
        while not self.stop_event.is_set():
            self.sent += 1
            result = dns_query(self.port, ZONE, qtype=6, timeout=0.5)
            if result is not None and result[0] == 0:
                self.answered += 1
            time.sleep(0.02)

    def finish(self):
        self.stop_event.set()
        self.join()
        return f"DNS answered {self.answered}/{self.sent}"


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


LEGIT_CLIENT = r"""
import http.client, json, sys, time
port, account, seconds, source = int(sys.argv[1]), json.loads(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
results, n, end = [], 0, time.time() + seconds
while time.time() < end:
    n += 1
    started = time.monotonic()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
        connection.request("POST", "/update", body=json.dumps({"subdomain": account["subdomain"], "txt": ("v%010dx" % (900000 + n) + "x" * 43)[:43]}),
                           headers={"Content-Type": "application/json", "X-Api-User": account["username"], "X-Api-Key": account["password"]})
        response = connection.getresponse()
        response.read()
        status = response.status
        connection.close()
    except OSError as error:
        status = str(error)
    results.append((status, time.monotonic() - started))
    time.sleep(0.2)
print(json.dumps(results))
"""


def legit_process(daemon, account, seconds, source="127.0.0.2"):
    """A legitimate client in a process of its own (the attackers' threads
    do not share its interpreter): starts it, returns a function that waits
    for its [(status, seconds)]."""
    process = subprocess.Popen([sys.executable, "-c", LEGIT_CLIENT, str(daemon.api_port), json.dumps(account), str(seconds), source],
                               stdout=subprocess.PIPE, text=True)
    def results():
        out, _ = process.communicate(timeout=seconds + 60)
        return [tuple(r) for r in json.loads(out)]
    return results


def legit_loop(daemon, account, stop, results, source="127.0.0.2", interval=0.2):
    """A legitimate client: /update every `interval` on fresh connections."""
    n = 0
    while not stop.is_set():
        n += 1
        try:
            status, _, seconds = update(daemon.api_port, account, txt_value(900_000 + n), source=source, timeout=10)
        except OSError as error:
            status, seconds = str(error), 10.0
        results.append((status, seconds))
        time.sleep(interval)


# MARK: cases

WRK_GUESSES = r"""
-- A new wrong password on every request, for one real account.
local user, subdomain = os.getenv("FLOOD_USER"), os.getenv("FLOOD_SUBDOMAIN")
local alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Api-User"] = user
wrk.body = '{"subdomain":"' .. subdomain .. '","txt":"' .. string.rep("w", 43) .. '"}'
math.randomseed(os.time())
request = function()
  local guess = {}
  for i = 1, 40 do
    local k = math.random(1, #alphabet)
    guess[i] = alphabet:sub(k, k)
  end
  wrk.headers["X-Api-Key"] = table.concat(guess)
  return wrk.format()
end
"""


def python_attackers(daemon, account, counts, stop):
    """64 threads, each on a kept-alive connection, a new guess each time
    (about as fast as one Python interpreter goes)."""
    wrong = dict(account, password="x" * 40)
    lock = threading.Lock()
    def attacker():
        connection = None
        while not stop.is_set():
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", daemon.api_port, timeout=30)
                guess = dict(wrong, password=f"{random.getrandbits(160):040x}")
                status, _, _ = update(daemon.api_port, guess, txt_value(2), connection=connection)
            except (OSError, http.client.HTTPException):
                status, connection = "error", None
            with lock:
                counts[status] = counts.get(status, 0) + 1
    threads = [threading.Thread(target=attacker, daemon=True) for _ in range(64)]
    for thread in threads:
        thread.start()
    def finish():
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    return finish


def wrk_attackers(daemon, account, counts, seconds, work):
    """wrk with 64 connections on one thread: as many guesses as one core
    of this machine can send."""
    script = os.path.join(work, "guesses.lua")
    with open(script, "w") as f:
        f.write(WRK_GUESSES)
    environment = dict(os.environ, FLOOD_USER=account["username"], FLOOD_SUBDOMAIN=account["subdomain"])
    process = subprocess.Popen(["wrk", "-t1", "-c64", f"-d{seconds}s", "--timeout", "30s", "-s", script, f"http://127.0.0.1:{daemon.api_port}/update"],
                               env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    def finish():
        out, _ = process.communicate(timeout=seconds + 60)
        for line in out.splitlines():
            words = line.split()
            if "requests in" in line:
                counts["requests"] = int(words[0])
            elif line.strip().startswith("Non-2xx or 3xx responses:"):
                counts["non-2xx"] = int(words[-1])
            elif line.strip().startswith("Socket errors:"):
                counts["socket errors"] = line.split(":", 1)[1].strip()
    return finish


def case_flood(work):
    """Wrong passwords (a new guess each time) for a real account while a
    legitimate client from another address keeps updating: 64 Python
    clients against a client whose secret was verified before the flood,
    then wrk at the rate one core drives against a client whose first
    /update (and so its first bcrypt check) comes during the flood."""
    have_wrk = shutil.which("wrk") is not None
    if not have_wrk:
        message = "flood: wrk is not installed (apt-get install wrk); the max-rate flood is skipped"
        if os.environ.get("CDNS_REQUIRE_INTEGRATION") == "1":
            fail(message)
        else:
            print(f"  {message}", flush=True)
    for label, env in (("default limits", {}), ("auth_failures_per_minute = 0 (bcrypt pool only)", {"CDNS_API_AUTH_FAILURES_PER_MINUTE": "0"})):
        for driver in ("64 Python clients", "wrk -t1 -c64") if have_wrk else ("64 Python clients",):
            daemon = Daemon(work, name=f"flood-{len(env)}-{driver.split()[0]}", env=env).start()
            try:
                account = daemon.register()
                warm = driver.startswith("64")
                if warm:
                    status, _, _ = update(daemon.api_port, account, txt_value(1), source="127.0.0.2", timeout=60)
                    if status != 200:
                        fail(f"flood ({label}): first legitimate update answered {status}")
                counts = {}
                cpu0, wall0 = daemon.cpu_seconds(), time.monotonic()
                if warm:
                    finish = python_attackers(daemon, account, counts, threading.Event())
                else:
                    finish = wrk_attackers(daemon, account, counts, 12, work)
                time.sleep(1)
                legit = legit_process(daemon, account, 10)()
                finish()
                cpu = (daemon.cpu_seconds() - cpu0) / (time.monotonic() - wall0)
                ok = [s for status, s in legit if status == 200]
                first = f"first /update (secret {'verified before' if warm else 'not yet verified'}) {legit[0][1] * 1000:.1f} ms, " if legit else ""
                print(f"  flood, {driver}, {label}: attackers got {dict(sorted(counts.items(), key=str))} in ~11 s; "
                      f"legitimate /update {len(ok)}/{len(legit)} ok, {first}p50 {percentile(ok, 0.5) * 1000:.1f} ms, "
                      f"max {max(ok or [0]) * 1000:.1f} ms; cdnsd CPU {cpu * 100:.0f}% of one core", flush=True)
                if len(ok) != len(legit) or not legit:
                    fail(f"flood ({driver}, {label}): legitimate updates failed: {[st for st, _ in legit if st != 200][:5]}")
                elif max(ok) > 1.0:
                    print(f"  note: a legitimate /update took over 1 s (target: within 1 s every time)")
                if not daemon.alive():
                    fail("flood: cdnsd died")
            finally:
                daemon.stop()


def case_slowloris(work):
    """600 connections trickle a request head a byte a second (more than
    max_connections = 512); a legitimate client keeps updating."""
    daemon = Daemon(work, name="slowloris", env={"CDNS_API_HEADER_TIMEOUT": "5"}).start()
    try:
        account = daemon.register()
        update(daemon.api_port, account, txt_value(1), source="127.0.0.2", timeout=60)
        sockets = []
        for _ in range(600):
            try:
                s = socket.create_connection(("127.0.0.1", daemon.api_port), timeout=2)
                s.setblocking(False)
                sockets.append(s)
            except OSError:
                break
        head = b"POST /update HTTP/1.1\r\nHost: x\r\nX-Api-User: " + b"a" * 64
        stop = threading.Event()
        legit = []
        legit_thread = threading.Thread(target=legit_loop, args=(daemon, account, stop, legit), daemon=True)
        legit_thread.start()
        started = time.monotonic()
        closed = 0
        for second in range(8):
            for s in sockets:
                if s.fileno() < 0:
                    continue
                try:
                    s.send(head[second:second + 1])
                    if s.recv(1) == b"":
                        closed += 1
                        s.close()
                except BlockingIOError:
                    pass
                except OSError:
                    closed += 1
                    s.close()
            time.sleep(1)
        stop.set()
        legit_thread.join()
        ok = [s for status, s in legit if status == 200]
        print(f"  slowloris: {len(sockets)} trickling connections, {closed} closed by cdnsd within "
              f"{time.monotonic() - started:.0f} s (header_timeout 5 s); legitimate /update {len(ok)}/{len(legit)} ok, "
              f"max {max(ok or [0]) * 1000:.1f} ms", flush=True)
        if len(ok) != len(legit) or not legit:
            fail(f"slowloris: legitimate updates failed: {[st for st, _ in legit if st != 200][:5]}")
        if closed < len(sockets) * 0.9:
            fail(f"slowloris: only {closed} of {len(sockets)} trickling connections were closed")
        for s in sockets:
            s.close()
    finally:
        daemon.stop()


def stored_values(path):
    out = subprocess.run(["sqlite3", path, "SELECT value FROM challenges"], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def writers(daemon, accounts, count, stop, acked, errors, start=0):
    """`count` threads writing unique values, thread i for account i modulo
    their number; acknowledged ones go to `acked`."""
    lock = threading.Lock()
    def writer(index):
        account = accounts[index % len(accounts)]
        n = start + index * 1_000_000
        connection = None
        while not stop.is_set():
            n += 1
            value = txt_value(n)
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", daemon.api_port, timeout=15)
                status, _, _ = update(daemon.api_port, account, value, connection=connection)
            except (OSError, http.client.HTTPException):
                status, connection = "error", None
                time.sleep(0.05)
            with lock:
                if status == 200:
                    acked.add(value)
                else:
                    errors[status] = errors.get(status, 0) + 1
            if status not in (200, "error"):
                time.sleep(0.05)
    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads


def case_kill9(work):
    """kill -9 during 50 concurrent writers; every acknowledged write is there after restart."""
    daemon = Daemon(work, name="kill9").start()
    try:
        # Ten accounts, five writers each: one name holds at most 1,000 values
        # (the largest max_values_per_name; a DNS message fits about 1,100).
        accounts = [daemon.register() for _ in range(10)]
        stop = threading.Event()
        acked = [set() for _ in accounts]
        errors = {}
        threads = []
        for index, account in enumerate(accounts):
            threads += writers(daemon, [account], 5, stop, acked[index], errors, start=index * 100_000_000)
        time.sleep(4)
        os.kill(daemon.process.pid, signal.SIGKILL)
        at_kill = sum(len(values) for values in acked)
        daemon.process.wait()
        stop.set()
        for thread in threads:
            thread.join(timeout=20)
        daemon.start()
        everything = set().union(*acked)
        present = stored_values(daemon.path)
        missing = everything - present
        served_missing = set()
        for account, values in zip(accounts, acked):
            served = dns_query(daemon.dns_port, f"{account['subdomain']}.{ZONE}", tcp=True, timeout=5)
            served_missing |= values - set(served[1] if served else [])
        integrity = subprocess.run(["sqlite3", daemon.path, "PRAGMA integrity_check"], capture_output=True, text=True).stdout.strip()
        print(f"  kill -9 under 50 writers (10 accounts): {at_kill} acknowledged before the kill, {len(everything)} in all; "
              f"after restart {len(everything) - len(missing)} stored, {len(everything) - len(served_missing)} served over DNS, "
              f"missing {len(missing)}; integrity_check {integrity}", flush=True)
        if missing or served_missing:
            fail(f"kill -9: {len(missing)} acknowledged writes lost ({sorted(missing)[:3]}), {len(served_missing)} not served")
        if integrity != "ok":
            fail(f"kill -9: integrity_check says {integrity}")
    finally:
        daemon.stop()


def case_diskfull(work):
    """The SQLite file on a small tmpfs that fills up under writes."""
    mount = os.path.join(work, "small-disk")
    os.makedirs(mount)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mount], capture_output=True, text=True)
    if mounted.returncode != 0:
        message = f"disk full: cannot mount a tmpfs ({mounted.stderr.strip()})"
        if os.environ.get("CDNS_REQUIRE_INTEGRATION") == "1":
            fail(message)
        else:
            print(f"  skipped: {message}")
        return
    daemon = Daemon(work, name="diskfull", path=os.path.join(mount, "data", "cdnsd.sqlite"))
    try:
        daemon.start()
        accounts = [daemon.register() for _ in range(4)]
        stop = threading.Event()
        acked, errors = set(), {}
        watch = DNSWatch(daemon.dns_port)
        watch.start()
        threads = writers(daemon, accounts, 8, stop, acked, errors)
        time.sleep(2)
        before_full = len(acked)
        filler = os.path.join(mount, "filler")
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
        time.sleep(4)
        while_full = len(acked) - before_full
        refused = dict(errors)
        health, body, _ = request(daemon.api_port, "GET", "/health")
        os.remove(filler)
        resumed_at = None
        t0 = time.monotonic()
        mark = len(acked)
        while time.monotonic() - t0 < 20:
            if len(acked) > mark + 20:
                resumed_at = time.monotonic() - t0
                break
            time.sleep(0.1)
        time.sleep(1)
        stop.set()
        for thread in threads:
            thread.join(timeout=20)
        dns = watch.finish()
        daemon.stop()
        integrity = subprocess.run(["sqlite3", daemon.path, "PRAGMA integrity_check"], capture_output=True, text=True).stdout.strip()
        missing = acked - stored_values(daemon.path)
        print(f"  disk full (24 MiB tmpfs): {before_full} writes acknowledged before, {while_full} while full, "
              f"answers while full {refused}; /health while full {health} {body.strip()}; writes resumed {resumed_at if resumed_at is None else f'{resumed_at:.1f} s'} "
              f"after space came back; {len(acked)} acknowledged, missing {len(missing)}; integrity_check {integrity}; {dns}", flush=True)
        if missing:
            fail(f"disk full: {len(missing)} acknowledged writes lost")
        if health != 503:
            fail(f"disk full: /health answered {health} while writes failed")
        if integrity != "ok":
            fail(f"disk full: integrity_check says {integrity}")
        if resumed_at is None:
            fail("disk full: writes did not resume once space was back")
        if not any(str(k).startswith("503") or k == 503 for k in refused):
            fail(f"disk full: no write was answered 503 while the disk was full ({refused})")
        if watch.answered < watch.sent * 0.99:
            fail(f"disk full: {dns}")
    finally:
        daemon.stop()
        subprocess.run(["umount", "-l", mount], capture_output=True)


def case_postgres(work):
    """Two replicas on one PostgreSQL that is stopped and started again under write load."""
    pgbin = sorted(d for d in os.listdir("/usr/lib/postgresql"))[-1] if os.path.isdir("/usr/lib/postgresql") else None
    if pgbin is None:
        message = "postgres: PostgreSQL is not installed"
        (fail if os.environ.get("CDNS_REQUIRE_INTEGRATION") == "1" else print)(message)
        return
    pgbin = f"/usr/lib/postgresql/{pgbin}/bin"
    pgdir = tempfile.mkdtemp(prefix="cdnsd-faults-pg.")
    shutil.chown(pgdir, "postgres")
    port = free_port()
    def su(command):
        return subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", command], capture_output=True, text=True)
    su(f"{pgbin}/initdb -D {pgdir}/data -A trust -U postgres")
    start = f"{pgbin}/pg_ctl -D {pgdir}/data -l {pgdir}/log -w -o '-p {port} -k {pgdir} -c listen_addresses=127.0.0.1' start"
    if su(start).returncode != 0:
        fail("postgres: cluster did not start")
        return
    url = f"postgres://postgres@127.0.0.1:{port}/postgres?sslmode=disable"
    replicas = [Daemon(work, name=f"pg-{i}", engine="postgres", url=url) for i in range(2)]
    try:
        for replica in replicas:
            replica.start()
        # Two accounts, one per replica's writers: each name stays well under the 1,000 values a name may hold.
        accounts = [replicas[0].register(), replicas[0].register()]
        time.sleep(1)
        stop = threading.Event()
        acked, errors = set(), {}
        threads = writers(replicas[0], [accounts[0]], 4, stop, acked, errors, start=1) + writers(replicas[1], [accounts[1]], 4, stop, acked, errors, start=2)
        watches = [DNSWatch(r.dns_port) for r in replicas]
        for watch in watches:
            watch.start()
        time.sleep(3)
        before = len(acked)
        su(f"{pgbin}/pg_ctl -D {pgdir}/data -m fast -w stop")
        time.sleep(5)
        health = request(replicas[1].api_port, "GET", "/health", timeout=10)
        during = len(acked) - before
        refused = dict(errors)
        su(start)
        t0 = time.monotonic()
        mark = len(acked)
        resumed_at = None
        while time.monotonic() - t0 < 60:
            if len(acked) > mark + 20:
                resumed_at = time.monotonic() - t0
                break
            time.sleep(0.1)
        time.sleep(2)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        dns = [watch.finish() for watch in watches]
        names = [f"{account['subdomain']}.{ZONE}" for account in accounts]
        converged = None
        t1 = time.monotonic()
        while time.monotonic() - t1 < 30:
            served = [set().union(*(set((dns_query(r.dns_port, name, tcp=True, timeout=5) or (0, []))[1]) for name in names)) for r in replicas]
            if all(acked <= s for s in served):
                converged = time.monotonic() - t1
                break
            time.sleep(0.5)
        missing = [len(acked - s) for s in served]
        print(f"  PostgreSQL stopped 5 s under 8 writers on 2 replicas: {before} acknowledged before, {during} while down, "
              f"refusals while down {refused}, in all {errors}; /health while down {health[0]} {health[1].strip()}; writes resumed "
              f"{'never' if resumed_at is None else f'{resumed_at:.1f} s'} after the restart; {len(acked)} acknowledged, "
              f"missing on the replicas {missing} ({'converged' if converged is not None else 'not converged'}); "
              f"{'; '.join(dns)}", flush=True)
        if any(missing):
            fail(f"postgres: acknowledged writes missing on a replica: {missing}")
        if resumed_at is None:
            fail("postgres: writes did not resume after the restart")
        for watch, d in zip(watches, dns):
            if watch.answered < watch.sent * 0.99:
                fail(f"postgres: {d}")
    finally:
        for replica in replicas:
            replica.stop()
        su(f"{pgbin}/pg_ctl -D {pgdir}/data -m immediate -w stop")
        shutil.rmtree(pgdir, ignore_errors=True)


def case_badfile(work):
    """A corrupt file and another program's SQLite database where cdnsd's should be."""
    for label in ("corrupt", "foreign"):
        directory = os.path.join(work, f"badfile-{label}")
        os.makedirs(directory)
        path = os.path.join(directory, "cdnsd.sqlite")
        if label == "corrupt":
            with open(path, "wb") as f:
                f.write(b"SQLite format 3\0" + os.urandom(8192))
        else:
            subprocess.run(["sqlite3", path, "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5);"], check=True)
        before = open(path, "rb").read()
        daemon = Daemon(work, name=f"badfile-{label}", path=path)
        daemon.start(wait=False)
        try:
            code = daemon.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
        daemon.log.close()
        output = open(daemon.log.name, errors="replace").read()
        unchanged = open(path, "rb").read() == before
        names_file = path in output
        print(f"  {label} SQLite file: exit {code}, message names the file: {names_file}, file unchanged: {unchanged}; "
              f"\"{output.strip().splitlines()[-1][:160] if output.strip() else ''}\"", flush=True)
        if code in (None, 0) or not names_file or not unchanged:
            fail(f"{label} SQLite file: exit {code}, names file {names_file}, unchanged {unchanged}")
        daemon.stop()


CASES = {"flood": case_flood, "slowloris": case_slowloris, "kill9": case_kill9, "diskfull": case_diskfull,
         "postgres": case_postgres, "badfile": case_badfile}


def main():
    chosen = sys.argv[2:] or list(CASES)
    work = tempfile.mkdtemp(prefix="cdnsd-faults-api.")
    try:
        for name in chosen:
            print(f"faults-api: {name}", flush=True)
            started = time.monotonic()
            try:
                CASES[name](work)
            except Exception as error:  # a case that breaks is a failure, not a crash of the suite
                fail(f"{name}: {type(error).__name__}: {error}")
            print(f"  ({time.monotonic() - started:.0f} s)", flush=True)
    finally:
        if FAILURES:
            print(f"faults-api: logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"faults-api: {len(FAILURES)} failure(s)")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
