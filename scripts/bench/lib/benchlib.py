"""scripts/bench/lib/benchlib.py — what both benchmarks share.

Process groups that are always reaped (every server runs in its own
session, and a cleanup stack kills each group even on Ctrl-C), /proc
sampling of CPU time and memory, free loopback ports, nginx config
boilerplate for private instances, vigil's binaries and status, the
plain-text tables the benchmarks print, (for the detect bench)
percentiles, ISO-8601 stamps, JSON-lines files and the load client's
reader, and (for the failover bench's HAProxy setups) `haproxy -c` and
`show servers state` over HAProxy's stats socket.
"""

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time

NGINX = "/usr/sbin/nginx"
HAPROXY = "/usr/sbin/haproxy"
NFT = "/usr/sbin/nft"
IP = "/usr/sbin/ip"
PYTHON = "/usr/bin/python3"

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(os.path.dirname(BENCH_DIR))
CLK_TCK = os.sysconf("SC_CLK_TCK")
CLIENT = os.path.join(BENCH_DIR, "lib", "client.py")


def log(msg):
    """Progress goes to stderr so stdout holds only the tables."""
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


class Cleanup:
    """A stack of undo actions run once, newest first, whatever happened.

    SIGTERM and SIGHUP are turned into KeyboardInterrupt so that a bench
    killed politely unwinds exactly like one interrupted by Ctrl-C; while
    the stack runs, further signals are ignored so a second Ctrl-C cannot
    leave half the processes alive.
    """

    def __init__(self):
        self._stack = []
        self._ran = False

    def push(self, fn, *args):
        self._stack.append((fn, args))

    def run(self):
        if self._ran:
            return
        self._ran = True
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        while self._stack:
            fn, args = self._stack.pop()
            try:
                fn(*args)
            except Exception as e:  # keep undoing the rest
                log(f"cleanup: {getattr(fn, '__name__', fn)} failed: {e}")


CLEANUP = Cleanup()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def run_main(fn):
    """Run fn() with signals mapped to KeyboardInterrupt; always clean up."""
    # SIGINT too: a shell starts background jobs with SIGINT ignored.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)
    rc = 1
    try:
        rc = fn() or 0
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        rc = 130
    except BenchError as e:
        log(f"error: {e}")
        rc = 1
    finally:
        CLEANUP.run()
    sys.exit(rc)


class BenchError(Exception):
    """A setup step failed: the message says which and why."""


def raise_nofile():
    """Soft RLIMIT_NOFILE up to the hard limit (at most 65536); inherited by children."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Proc:
    """A child in its own session; stop() kills the whole session.

    Every Proc registers its own stop() with CLEANUP, so a bench that dies
    half-way still reaps it; stop() is idempotent.
    """

    def __init__(self, argv, log_path, stdin=subprocess.DEVNULL, stdout=None):
        self.argv = list(argv)
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.p = subprocess.Popen(self.argv, stdin=stdin,
                                  stdout=stdout if stdout is not None else self._log,
                                  stderr=self._log, start_new_session=True)
        self.pid = self.p.pid
        self._stopped = False
        CLEANUP.push(self.stop)

    def alive(self):
        return self.p.poll() is None

    def signal_group(self, sig):
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def pids(self):
        """Live (non-zombie) processes of this session: master and workers."""
        return session_pids(self.pid)

    def stop(self, grace=2.0):
        """SIGTERM the leader (after SIGCONT, in case it is frozen), then SIGKILL the session."""
        if self._stopped:
            return self.p.returncode
        self._stopped = True
        if self.alive():
            self.signal_group(signal.SIGCONT)
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # Workers can outlive their master: sweep the session in every case.
        for pid in session_pids(self.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log(f"pid {self.pid} ({self.argv[0]}) did not die")
        if not self._log.closed:
            self._log.close()
        return self.p.returncode

    def output(self):
        try:
            with open(self.log_path, "r", encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class Netns:
    """The bench's namespace; destroy() kills whatever still runs in it."""

    def __init__(self, name):
        self.name = name
        self._run([IP, "netns", "add", name])
        CLEANUP.push(self.destroy)
        self.run([IP, "link", "set", "lo", "up"])

    @staticmethod
    def _run(argv, timeout=30, check=True, **kw):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
        if check and r.returncode != 0:
            raise BenchError(f"{' '.join(argv)}: {r.stderr.strip() or r.returncode}")
        return r

    def wrap(self, argv):
        return [IP, "netns", "exec", self.name, *argv]

    def run(self, argv, **kw):
        return self._run(self.wrap(argv), **kw)

    def destroy(self):
        r = self._run([IP, "netns", "pids", self.name], check=False)
        for pid in r.stdout.split():
            try:
                os.kill(int(pid), 9)
            except (ProcessLookupError, ValueError):
                pass
        self._run([IP, "netns", "del", self.name], check=False)

    def wait_ports(self, ports, timeout=10):
        """Block until every port accepts inside the namespace; BenchError if not."""
        r = self.run([PYTHON, CLIENT, "wait", "--ports", ",".join(map(str, ports)),
                      "--timeout", str(timeout)], check=False, timeout=timeout + 10)
        if r.returncode != 0:
            raise BenchError(f"ports {ports} not listening in {self.name} after {timeout}s")


def _stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (state is [0])."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def session_pids(sid):
    pids = []
    for ent in os.listdir("/proc"):
        if not ent.isdigit():
            continue
        try:
            fields = _stat_fields(ent)
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[3]) == sid:
            pids.append(int(ent))
    return pids


def cpu_seconds(pids):
    """utime + stime of pids, in seconds (processes gone meanwhile count 0)."""
    ticks = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / CLK_TCK


def memory_kib(pids):
    """(VmRSS, VmHWM) summed over pids, in KiB."""
    rss = hwm = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                    elif line.startswith("VmHWM:"):
                        hwm += int(line.split()[1])
        except OSError:
            continue
    return rss, hwm


def free_ports(n):
    """n distinct free loopback TCP ports.

    All n sockets stay bound until every port is chosen, so no port is
    handed out twice; another process could still take one before our
    server binds it, which the server's start-up check would report.
    """
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(pred, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        val = pred()
        if val:
            return val
        if time.monotonic() >= deadline:
            raise BenchError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def nginx_head(prefix, name, workers=1, connections=1024, nofile=None):
    """Top of an nginx.conf keeping every path of a private instance under prefix.

    The caller writes the http block's body and its closing brace.
    """
    tmp = os.path.join(prefix, f"{name}.tmp")
    os.makedirs(tmp, exist_ok=True)
    rlimit = f"worker_rlimit_nofile {nofile};\n" if nofile else ""
    return f"""\
worker_processes {workers};
{rlimit}error_log {prefix}/{name}.error.log warn;
pid {prefix}/{name}.pid;
events {{ worker_connections {connections}; }}
http {{
    access_log off;
    default_type text/plain;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
"""


def nginx_argv(prefix, name, *extra):
    conf = os.path.join(prefix, f"{name}.conf")
    return [NGINX, "-p", prefix, "-e", os.path.join(prefix, f"{name}.error.log"),
            "-c", conf, *extra]


def nginx_check(prefix, name, wrap=()):
    r = subprocess.run([*wrap, *nginx_argv(prefix, name, "-t", "-q")],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise BenchError(f"nginx -t {name}: {r.stderr.strip()}")


def find_vigil(build):
    """(vigil, vigilctl) absolute paths in build, or BenchError naming what is missing."""
    build = os.path.abspath(build)
    paths = tuple(os.path.join(build, b) for b in ("vigil", "vigilctl"))
    for p in paths:
        if not os.access(p, os.X_OK):
            raise BenchError(f"{p} not found or not executable (build vigil, or pass --build DIR)")
    return paths


def vigil_check_config(vigil, conf):
    r = subprocess.run([vigil, "-t", "-c", conf], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise BenchError(f"vigil -t -c {conf} refused the config:\n{r.stdout}{r.stderr}")


def vigil_status(vigilctl, sock, timeout=5.0, quiet=True):
    """vigil's status document, or None if vigilctl failed (said on stderr unless quiet)."""
    why = None
    try:
        r = subprocess.run([vigilctl, "-s", sock, "status", "--json"],
                           capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            why = f"exit {r.returncode}: {r.stderr.strip()[:300]}"
        else:
            return json.loads(r.stdout)
    except subprocess.TimeoutExpired:
        why = f"no answer within {timeout:g}s"
    except ValueError as e:
        why = f"not JSON: {e}"
    if not quiet:
        log(f"vigilctl status: {why}")
    return None


def cfg_str(s):
    """A libconfig string literal (JSON string escaping is a subset it accepts)."""
    return json.dumps(s)


def cfg_list(items):
    return "[" + ", ".join(cfg_str(x) for x in items) + "]"


def make_tmpdir(prefix, keep):
    import tempfile
    d = tempfile.mkdtemp(prefix=prefix)
    if keep:
        CLEANUP.push(log, f"kept {d}")
    else:
        CLEANUP.push(shutil.rmtree, d, True)
    return d


def print_table(headers, rows, out=None):
    """A plain aligned table: text columns left, numeric-looking ones right."""
    out = out or sys.stdout
    rows = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]

    def numeric(i):
        cells = [r[i] for r in rows if r[i] not in ("", "-")]
        return bool(cells) and all(c.lstrip(">~<").replace(".", "", 1).replace("/", "")
                                   .replace(" ", "").isdigit() for c in cells)

    right = [numeric(i) for i in range(len(headers))]

    def fmt(cells):
        return " | ".join(c.rjust(w) if r else c.ljust(w)
                          for c, w, r in zip(cells, widths, right)).rstrip()

    out.write(fmt(headers) + "\n")
    out.write("-+-".join("-" * w for w in widths) + "\n")
    for r in rows:
        out.write(fmt(r) + "\n")
    out.flush()


# ---------------------------------------------------------------- added for scripts/bench/detect

def percentile(xs, p):
    """The p-th percentile (0..100) of xs, interpolating linearly between ranks.

    The same definition as numpy's default: with fewer than 100 samples the
    99th lies between the two largest, so it is not simply the maximum.
    None if xs is empty.
    """
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    if k == lo or xs[hi] == xs[lo]:
        return xs[lo]
    if xs[hi] == float("inf"):  # inf - x times a fraction would be nan
        return xs[hi]
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def iso_epoch(ts):
    """Seconds since the epoch of an ISO-8601 UTC stamp such as vigil writes
    ("2026-11-25T04:33:30.123Z"); None if it is not one."""
    import datetime
    try:
        return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return None


def read_jsonl(path):
    """The JSON objects of a one-object-per-line file; unparseable lines
    (a torn last line, text mixed in) are skipped, a missing file is empty."""
    out = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    out.append(obj)
    except OSError:
        pass
    return out


class LoadClient:
    """lib/client.py run in the namespace, and the answers it reported so far.

    results holds (sent, end, status, body) tuples, times in
    time.monotonic() seconds; wait() blocks on a predicate over them.
    """

    def __init__(self, ns, log_path, port, period, timeout, max_seconds):
        import threading
        self.results = []
        self.done = threading.Event()
        self.cond = threading.Condition()
        self.proc = Proc(ns.wrap([PYTHON, CLIENT, "run", "--port", str(port),
                                  "--period", str(period), "--timeout", str(timeout),
                                  "--max-seconds", str(max_seconds)]),
                         log_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        for raw in self.proc.p.stdout:
            parts = raw.decode(errors="replace").split()
            if parts == ["DONE"]:
                break
            if len(parts) == 6 and parts[0] == "R":
                with self.cond:
                    self.results.append((float(parts[2]), float(parts[3]), parts[4], parts[5]))
                    self.cond.notify_all()
        self.done.set()
        with self.cond:
            self.cond.notify_all()

    def wait(self, pred, timeout):
        """pred(results) once truthy, or None after timeout or when the client ended."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                v = pred(self.results)
                if v or self.done.is_set():
                    return v or None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 0.05))

    def stop(self, timeout):
        """Ask the client to stop, give its open requests timeout s, then kill it."""
        try:
            self.proc.p.stdin.write(b"STOP\n")
            self.proc.p.stdin.flush()
            self.proc.p.stdin.close()
        except OSError:
            pass
        self.done.wait(timeout)
        self.proc.stop(grace=1)
        return list(self.results)


# ---------------------------------------------------------------- added for the failover bench's HAProxy setups

def haproxy_check(cfg):
    """`haproxy -c` on cfg; BenchError with HAProxy's words if it refuses it."""
    r = subprocess.run([HAPROXY, "-c", "-q", "-f", cfg], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        raise BenchError(f"haproxy -c refused {cfg}:\n{r.stdout}{r.stderr}")


def haproxy_cli(sock, cmd, timeout=2.0):
    """One Runtime API command on a unix stats socket: the answer, or None.

    HAProxy answers one command and closes (no prompt mode), so the answer
    ends with the stream.
    """
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(sock)
            s.sendall(cmd.encode() + b"\n")
            chunks = []
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return b"".join(chunks).decode("utf-8", "replace")
                chunks.append(chunk)
    except OSError:
        return None


def haproxy_servers(sock, backend, timeout=2.0):
    """{server: {"op": srv_op_state, "admin": srv_admin_state, "addr": srv_addr}}
    of backend, from `show servers state`; None if the socket did not answer
    with that table (not there yet, or an error message)."""
    answer = haproxy_cli(sock, f"show servers state {backend}", timeout)
    if answer is None:
        return None
    cols, out = None, {}
    for line in answer.splitlines():
        if line.startswith("# "):
            cols = line[2:].split()
            continue
        fields = line.split()
        if not cols or len(fields) < len(cols) or "srv_name" not in cols:
            continue
        row = dict(zip(cols, fields))
        if row.get("be_name") != backend:
            continue
        try:
            out[row["srv_name"]] = {"op": int(row["srv_op_state"]),
                                    "admin": int(row["srv_admin_state"]),
                                    "addr": row.get("srv_addr")}
        except (KeyError, ValueError):
            return None
    return out or None
