"""tests/integration/helpers.py — real servers for vigil's integration tests.

Everything here runs on 127.0.0.1, on ports picked free at run time, inside
one temp dir per test.  Every process is started in its own session so that
teardown can kill its whole group (an nginx master and its workers) by id.
"""

import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

NGINX = shutil.which("nginx", path="/usr/sbin:/usr/bin:/sbin:/bin") or "/usr/sbin/nginx"

_issued_ports = set()


def free_port():
    """A loopback TCP port nobody listens on, never handed out twice per run.

    Between close() and the server's bind another process could take it;
    on a test machine that race is rare, and the servers' own start-up
    checks would notice it.
    """
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _issued_ports:
            _issued_ports.add(port)
            return port
    raise RuntimeError("no free port found")


def wait_for(pred, timeout, interval=0.05, what="condition"):
    """Poll pred() until it returns something truthy; return that value.

    Raises AssertionError naming `what` after `timeout` seconds, so a test
    that waits for the daemon fails with a message instead of hanging.
    """
    deadline = time.monotonic() + timeout
    while True:
        val = pred()
        if val:
            return val
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def live_group_members(pgid):
    """Pids of processes in group pgid that are not zombies.

    Orphaned nginx workers are reparented to PID 1, which may reap them a
    little later: a zombie is dead for our purposes.
    """
    pids = []
    for ent in os.listdir("/proc"):
        if not ent.isdigit():
            continue
        try:
            with open(f"/proc/{ent}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(ent))
    return pids


PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy",
              "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def clean_env(extra=None):
    """os.environ without proxy settings (all traffic here is loopback), plus extra."""
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    env.update(extra or {})
    return env


_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url, timeout=3.0):
    """Body of GET url as stripped text, or None on any error or non-200."""
    req = urllib.request.Request(url, headers={"Connection": "close"})
    try:
        with _direct.open(req, timeout=timeout) as resp:
            if resp.status != 200:
                return None
            return resp.read().decode("utf-8", "replace").strip()
    except (OSError, urllib.error.URLError, http.client.HTTPException):
        return None


# Every Proc ever started, so the harness can fail a test that leaves one running.
STARTED = []


class Proc:
    """A child process in its own session, output appended to a log file."""

    def __init__(self, argv, log_path, env=None, cwd=None):
        self.argv = list(argv)
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                  stderr=subprocess.STDOUT, start_new_session=True,
                                  env=env, cwd=cwd)
        self.pid = self.p.pid
        STARTED.append(self)

    def alive(self):
        return self.p.poll() is None

    def send(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def kill_group(self, sig=signal.SIGKILL):
        """Signal every process of the group (master and workers)."""
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def wait(self, timeout):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def group_alive(self):
        """Any process of its group still running (zombies are dead)."""
        self.p.poll()
        return bool(live_group_members(self.pid))

    def stop(self, timeout=5.0, sig=signal.SIGTERM):
        """SIGTERM, then SIGKILL the group after timeout; returns exit code."""
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            if self.wait(timeout) is None:
                self.kill_group(signal.SIGKILL)
                self.wait(5.0)
        # Workers outlive a killed master: sweep the group in every case.
        self.kill_group(signal.SIGKILL)
        rc = self.p.poll()
        if not self._log.closed:
            self._log.close()
        return rc

    def output(self):
        try:
            with open(self.log_path, "r", encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def _nginx_main(prefix, name):
    """The top of an nginx.conf keeping every path of a private instance in prefix."""
    return f"""\
worker_processes 1;
error_log {prefix}/{name}.error.log info;
pid {prefix}/{name}.pid;
events {{ worker_connections 256; }}
http {{
    access_log off;
    default_type text/plain;
    client_body_temp_path {prefix}/{name}.tmp/client_body;
    proxy_temp_path {prefix}/{name}.tmp/proxy;
    fastcgi_temp_path {prefix}/{name}.tmp/fastcgi;
    uwsgi_temp_path {prefix}/{name}.tmp/uwsgi;
    scgi_temp_path {prefix}/{name}.tmp/scgi;
"""


class Nginx:
    """A private nginx instance: `nginx -p DIR -c DIR/NAME.conf -g 'daemon off;'`."""

    def __init__(self, prefix, name, port):
        self.prefix = prefix
        self.name = name
        self.port = port
        self.conf = os.path.join(prefix, f"{name}.conf")
        self.pidfile = os.path.join(prefix, f"{name}.pid")
        self.proc = None
        os.makedirs(os.path.join(prefix, f"{name}.tmp"), exist_ok=True)

    def argv(self, *extra):
        return [NGINX, "-p", self.prefix, "-c", self.conf, *extra]

    def check_argv(self):
        return self.argv("-t", "-q")

    def reload_argv(self):
        return self.argv("-s", "reload")

    def start(self, timeout=10.0):
        """Start in the foreground (backgrounded here) and wait until it accepts."""
        test = subprocess.run(self.check_argv(), capture_output=True, text=True, timeout=30)
        if test.returncode != 0:
            raise RuntimeError(f"nginx -t {self.conf} failed: {test.stderr.strip()}")
        self.proc = Proc(self.argv("-g", "daemon off;"),
                         os.path.join(self.prefix, f"{self.name}.out.log"))
        try:
            wait_for(lambda: port_open(self.port) or not self.proc.alive(), timeout,
                     what=f"nginx {self.name} on port {self.port}")
        except AssertionError:
            self.kill()
            raise
        if not self.proc.alive():
            raise RuntimeError(f"nginx {self.name} exited: {self.proc.output()}")
        return self

    def master_pid(self):
        return self.proc.pid if self.proc else None

    def kill(self):
        """Crash it: SIGKILL master and workers at once; wait until the port is free."""
        if self.proc is None:
            return
        self.proc.kill_group(signal.SIGKILL)
        self.proc.wait(5.0)
        self.proc.stop(timeout=1.0)
        wait_for(lambda: not port_open(self.port), 5.0, what=f"port {self.port} to close")
        self.proc = None

    def stop(self):
        if self.proc is not None:
            self.proc.stop(timeout=3.0, sig=signal.SIGTERM)
            self.proc = None

    def reload(self):
        subprocess.run(self.reload_argv(), check=True, capture_output=True, timeout=30)


class Backend(Nginx):
    """A backend answering its own name on / and /health, and slowly on /slow."""

    SLOW_BYTES = 64 * 1024  # /slow takes about 2 s at 32 KiB/s

    def __init__(self, prefix, name, port):
        super().__init__(prefix, name, port)
        with open(os.path.join(prefix, "slow.txt"), "w") as f:
            f.write((name * self.SLOW_BYTES)[:self.SLOW_BYTES])
        with open(self.conf, "w") as f:
            f.write(_nginx_main(prefix, name))
            f.write(f"""\
    server {{
        listen 127.0.0.1:{port};
        location = /health {{ return 200 "{name}\\n"; }}
        location = /slow {{ limit_rate 32k; default_type text/plain; alias {prefix}/slow.txt; }}
        location / {{ return 200 "{name}\\n"; }}
    }}
}}
""")

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"


class Balancer(Nginx):
    """The load balancer: proxies / to the upstream in a file vigil owns."""

    def __init__(self, prefix, port, upstream_name, upstream_file):
        super().__init__(prefix, "lb", port)
        self.upstream_name = upstream_name
        self.upstream_file = upstream_file
        with open(self.conf, "w") as f:
            f.write(_nginx_main(prefix, "lb"))
            f.write(f"""\
    include {upstream_file};
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://{upstream_name};
            proxy_connect_timeout 1s;
            proxy_read_timeout 2s;
            proxy_send_timeout 2s;
            # nginx 1.22 with buffering on cuts a response still streaming
            # from the upstream when a reload retires its worker ("open
            # socket left in connection"); unbuffered, the old worker
            # finishes it, which is what a drain waits for.
            proxy_buffering off;
            proxy_set_header Connection close;
        }}
    }}
}}
""")

    def write_upstream(self, servers):
        """Write the upstream file ourselves (before vigil owns it).

        servers: list of (address, flags) e.g. [("127.0.0.1:8081", ""), (..., "backup")].
        A leading comment marks it as ours so a test can tell when vigil
        has rendered its own.
        """
        lines = ["# written by the test harness, not by vigil\n",
                 f"upstream {self.upstream_name} {{\n"]
        for addr, flags in servers:
            lines.append(f"    server {addr}{(' ' + flags) if flags else ''};\n")
        lines.append("}\n")
        with open(self.upstream_file, "w") as f:
            f.writelines(lines)

    def get(self, path="/"):
        return http_get(f"http://127.0.0.1:{self.port}{path}")


_SERVER_RE = re.compile(r"^\s*server\s+([^\s;]+)([^;]*);", re.MULTILINE)


def parse_upstream(text, name=None):
    """{address: [flags]} for the server lines of an upstream file.

    If name is given, only the block `upstream NAME { ... }` is read.
    """
    if name is not None:
        m = re.search(r"upstream\s+" + re.escape(name) + r"\s*\{(.*?)\}", text, re.S)
        if not m:
            return {}
        text = m.group(1)
    return {m.group(1): m.group(2).split() for m in _SERVER_RE.finditer(text)}


class WebhookReceiver:
    """A loopback HTTP server recording every POSTed JSON body."""

    def __init__(self):
        self.events = []
        self.raw = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                try:
                    ev = json.loads(body)
                except ValueError:
                    ev = None
                with receiver._cond:
                    receiver.raw.append((self.path, body, dict(self.headers)))
                    if isinstance(ev, dict):
                        receiver.events.append(ev)
                    receiver._cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/alert"
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def of(self, event):
        with self._cond:
            return [e for e in self.events if e.get("event") == event]

    def wait_event(self, event, timeout=10.0, pred=None):
        """The first recorded event named `event` (matching pred); waits for it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for e in self.events:
                    if e.get("event") == event and (pred is None or pred(e)):
                        return e
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [e.get("event") for e in self.events]
                    raise AssertionError(f"no {event!r} alert within {timeout}s; got {seen}")
                self._cond.wait(left)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix socket (the control API)."""

    def __init__(self, path, timeout=5.0):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def unix_request(sock_path, method, path, body=None, timeout=5.0):
    """(status, parsed JSON or None, raw body bytes) of one control API request."""
    conn = UnixHTTPConnection(sock_path, timeout=timeout)
    try:
        headers = {"Connection": "close"}
        if body is not None:
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        return resp.status, doc, raw
    finally:
        conn.close()


def write_script(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)
    return path


def read_jsonl(path):
    """The JSON objects of a JSON-lines file that may not exist yet."""
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def count_lines(path):
    try:
        with open(path) as f:
            return sum(1 for line in f if line.strip())
    except FileNotFoundError:
        return 0
