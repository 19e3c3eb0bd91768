"""scripts/bench/lib/detectlib.py — the servers, faults and readings of scripts/bench/detect.

Backends that also answer /health on a second port (so vigil gets three
independent observers per node), a balancer that never fails over on its
own (so the time to the standby is the checker's doing), vigil with those
three probes, HAProxy whose log lines are timestamped as they arrive, and
the readers of vigil's journal and debug log.
"""

import os
import re
import subprocess
import threading
import time

from benchlib import (HAPROXY, NFT, BenchError, Proc, cfg_list, cfg_str, iso_epoch,
                      nginx_argv, nginx_check, nginx_head, read_jsonl, vigil_check_config,
                      vigil_status)

# The namespace is the bench's own: fixed ports cannot collide with anything.
PORT_LB, PORT_A, PORT_B = 8080, 8081, 8082
HEALTH_OFFSET = 10000  # each backend answers /health on port + 10000 too
FAULTS = ("killed", "frozen", "blackholed")
TOOLS = ("vigil", "haproxy")
NFT_TABLE = "vbdetect"


def duration_ms(text):
    """'100ms', '1s', '1.5s', '2m' in ms; ValueError otherwise."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m)\s*", text)
    if not m:
        raise ValueError(f"{text!r}: a number with ms, s or m")
    return float(m.group(1)) * {"ms": 1, "s": 1000, "m": 60000}[m.group(2)]


# ---------------------------------------------------------------- servers

def start_backend(ns, d, name, port, health_log=False):
    """nginx answering name on / and /health at port, and /health at port + HEALTH_OFFSET.

    health_log: log every request to the second port (see probe_arrivals).
    """
    log = (f"access_log {d}/{name}.health.log hl;" if health_log else "")
    with open(os.path.join(d, f"{name}.conf"), "w") as f:
        f.write(nginx_head(d, name))
        f.write(f"""\
    log_format hl '$msec $connection $connection_requests $connection_time';
    server {{
        listen 127.0.0.1:{port};
        location = /health {{ return 200 "{name}\\n"; }}
        location / {{ return 200 "{name}\\n"; }}
    }}
    server {{
        listen 127.0.0.1:{port + HEALTH_OFFSET};
        {log}
        location = /health {{ return 200 "{name}\\n"; }}
    }}
}}
""")
    nginx_check(d, name)
    return Proc(ns.wrap(nginx_argv(d, name, "-g", "daemon off;")), os.path.join(d, f"{name}.out"))


def write_upstream(path):
    """The upstream as vigil renders it for primary a (max_fails=0: see start_lb_nginx)."""
    with open(path, "w") as f:
        f.write(f"upstream web_backend {{\n    server 127.0.0.1:{PORT_A} max_fails=0;\n"
                f"    server 127.0.0.1:{PORT_B} backup max_fails=0;\n}}\n")


def start_lb_nginx(ns, d):
    """The balancer vigil rewrites; it never moves traffic to b by itself.

    max_fails=0 (vigil's server_options) keeps nginx from marking a
    unavailable after failed requests, and proxy_next_upstream off keeps it
    from retrying a failed request on the backup: either would serve b
    before vigil did anything, and the bench would time nginx, not vigil.
    """
    upstream = os.path.join(d, "upstream.conf")
    write_upstream(upstream)
    with open(os.path.join(d, "lb.conf"), "w") as f:
        f.write(nginx_head(d, "lb", connections=4096))
        f.write(f"""\
    include {upstream};
    server {{
        listen 127.0.0.1:{PORT_LB};
        location / {{ proxy_next_upstream off; proxy_pass http://web_backend; }}
    }}
}}
""")
    nginx_check(d, "lb")
    return Proc(ns.wrap(nginx_argv(d, "lb", "-g", "daemon off;")), os.path.join(d, "lb.out"))


def vigil_probes(a):
    """The three observers of every node, all on the same schedule."""
    common = (f"interval = {cfg_str(a.interval)}; timeout = {cfg_str(a.timeout)}; "
              f"jitter = \"0ms\"; rise = {a.rise}; fall = {a.fall};")
    return f"""\
    {{ type = "tcp"; {common} }},
    {{ type = "http"; url = "http://{{address}}/health"; {common} }},
    {{ type = "http"; url = "http://{{host}}:1{{port}}/health"; {common} }}"""


def start_vigil(ns, d, a, vigil, debug=False):
    """vigil over a and b with three probes each (quorum: the default majority, 2)."""
    lb = nginx_argv(d, "lb")
    conf = os.path.join(d, "vigil.conf")
    os.makedirs(os.path.join(d, "state"))
    with open(conf, "w") as f:
        f.write(f"""\
state_dir = {cfg_str(os.path.join(d, "state"))};
control = {{ socket = {cfg_str(os.path.join(d, "vigil.sock"))}; }};
clusters = ( {{
  name = "web";
  nodes = ( {{ name = "a"; address = "127.0.0.1:{PORT_A}"; role = "primary"; }},
            {{ name = "b"; address = "127.0.0.1:{PORT_B}"; role = "standby"; }} );
  probes = (
{vigil_probes(a)}
  );
  cooldown = "0ms";
  max_failovers = 16;
  failover_window = "1m";
  balancers = ( {{ type = "nginx"; upstream = "web_backend";
                  file = {cfg_str(os.path.join(d, "upstream.conf"))};
                  check = {cfg_list(lb + ["-t", "-q"])};
                  reload = {cfg_list(lb + ["-s", "reload"])};
                  standby = "backup"; server_options = "max_fails=0"; }} );
}} );
""")
    vigil_check_config(vigil, conf)
    argv = [vigil, "--log-format", "json", "-c", conf]
    if debug:
        argv += ["--log-level", "debug"]  # "observer changed" lines are debug
    return Proc(ns.wrap(argv), os.path.join(d, "vigil.log"))


def vigil_ready(vigilctl, d):
    """a primary, every observer of a and b up, and the start-up render done."""
    st = vigil_status(vigilctl, os.path.join(d, "vigil.sock"), timeout=2)
    if not st or len(st.get("clusters", [])) != 1:
        return False
    cl = st["clusters"][0]
    if cl.get("primary") != "a":
        return False
    for n in cl.get("nodes", []):
        obs = n.get("observers") or []
        if n.get("health") != "up" or len(obs) != 3 or any(o.get("health") != "up" for o in obs):
            return False
    render = cl.get("last_render")
    return not (isinstance(render, dict) and render.get("result") == "running")


class Haproxy:
    """HAProxy with its health checks; its log lines are timestamped on arrival.

    The log goes to HAProxy's stdout (`log stdout format raw`), which is a
    pipe read by a thread here, so a line's time is when HAProxy wrote it
    (plus the thread's wake-up), on the bench's own monotonic clock.
    """

    def __init__(self, ns, d, a):
        cfg = os.path.join(d, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(f"""\
global
    maxconn 4096
    log stdout format raw local0
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 5s
    timeout check {a.timeout}
    retries 0
frontend fe
    bind 127.0.0.1:{PORT_LB}
    default_backend web
backend web
    log global
    option httpchk GET /health
    default-server inter {a.interval} fall {a.fall} rise {a.rise}
    server a 127.0.0.1:{PORT_A} check
    server b 127.0.0.1:{PORT_B} check backup
""")
        r = subprocess.run([HAPROXY, "-c", "-q", "-f", cfg], capture_output=True, text=True,
                           timeout=30)
        if r.returncode != 0:
            raise BenchError(f"haproxy -c refused {cfg}:\n{r.stdout}{r.stderr}")
        self.lines = []  # (monotonic, text)
        self._lock = threading.Lock()
        self._copy = open(os.path.join(d, "haproxy.log"), "w")
        self.proc = Proc(ns.wrap([HAPROXY, "-db", "-f", cfg]), os.path.join(d, "haproxy.out"),
                         stdout=subprocess.PIPE)
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        for raw in self.proc.p.stdout:
            now = time.monotonic()
            text = raw.decode(errors="replace").rstrip("\n")
            with self._lock:
                self.lines.append((now, text))
            self._copy.write(f"{now:.6f} {text}\n")
        self._copy.close()

    def down_at(self, server, after):
        """Monotonic time of the first 'Server web/SERVER is DOWN' line after `after`."""
        needle = f"Server web/{server} is DOWN"
        with self._lock:
            for t, text in self.lines:
                if t >= after and needle in text:
                    return t
        return None

    def stop(self, grace=3):
        rc = self.proc.stop(grace=grace)
        self._t.join(timeout=2)
        return rc


# ---------------------------------------------------------------- faults

def inject(ns, fault, backend):
    """Apply the fault to backend a: (monotonic, wall) time it is in effect."""
    if fault == "killed":
        backend.signal_group(9)
    elif fault == "frozen":
        backend.signal_group(19)  # SIGSTOP: the kernel still completes handshakes
    else:
        nft(ns, f"tcp dport {PORT_A} drop")
    return time.monotonic(), time.time()


def nft(ns, *rules):
    """Load table inet NFT_TABLE with one input chain holding rules."""
    body = "\n".join(f"        {r}" for r in rules)
    ns.run([NFT, "-f", "-"], input=f"""\
table inet {NFT_TABLE} {{
    chain in {{
        type filter hook input priority 0;
{body}
    }}
}}
""")


def nft_delete(ns):
    ns.run([NFT, "delete", "table", "inet", NFT_TABLE], check=False)


def nft_counters(ns):
    """[(packets, bytes)] of the counters in NFT_TABLE, in rule order."""
    import json
    r = ns.run([NFT, "-j", "list", "table", "inet", NFT_TABLE], check=False)
    out = []
    try:
        for item in json.loads(r.stdout).get("nftables", []):
            for expr in item.get("rule", {}).get("expr", []):
                if "counter" in expr:
                    out.append((expr["counter"]["packets"], expr["counter"]["bytes"]))
    except (ValueError, AttributeError, KeyError):
        pass
    return out


# ---------------------------------------------------------------- vigil's records

def journal(d):
    return read_jsonl(os.path.join(d, "state", "journal.jsonl"))


def journal_ms(d, fault_wall):
    """ms from the fault to the first ODOWN of a, promotion of b and failover to b."""
    want = {"node_down": ("node", "a"), "failover_started": ("new_primary", "b"),
            "promoted": ("new_primary", "b"), "failover": ("new_primary", "b")}
    got, bad = {}, []
    for ev in journal(d):
        name = ev.get("event")
        t = iso_epoch(ev.get("ts"))
        if t is None:
            continue
        if name in ("failover_failed", "no_candidate", "reroute_failed", "failover_interrupted",
                    "tilt"):
            bad.append(name)
        key = want.get(name)
        # A record stamped up to 1 ms before the fault is the ms truncation.
        if key and ev.get(key[0]) == key[1] and name not in got and t >= fault_wall - 0.002:
            got[name] = 1000 * (t - fault_wall)
    return got, sorted(set(bad))


def observer_changes(path, since_wall):
    """vigil's debug "observer changed" lines at or after since_wall: (wall, node, type, health)."""
    out = []
    for ev in read_jsonl(path):
        if ev.get("msg") != "observer changed":
            continue
        t = iso_epoch(ev.get("ts"))
        if t is not None and t >= since_wall:
            out.append((t, ev.get("node"), ev.get("probe"), ev.get("health")))
    return out



def probe_arrivals(path, lo, hi, interval_ms, timeout_ms):
    """(in time, late): requests logged by start_backend(health_log) within [lo, hi].

    A probe whose request packet was dropped gives up at its timeout and
    closes its connection; the kernel still resends the request (at once
    when the FIN it sends on close is SACKed, else after its 200 ms minimum
    RTO) and nginx answers it, to nobody.  A request in time arrives about
    when it is sent, a late one at least a timeout later, so the line is
    drawn half a timeout after the expected time: a request on a kept-alive
    connection is expected one interval after the previous one there (a
    failed probe's connection is not reused), a connection's first request
    right after the connection was accepted.  Valid while the timeout is
    below that RTO (a resend within the timeout would count as late).
    """
    last, on_time, late = {}, 0, 0
    try:
        with open(path) as f:
            rows = [line.split() for line in f]
    except OSError:
        return 0, 0
    for row in rows:
        try:
            t, conn, nreq, age = float(row[0]), row[1], int(row[2]), float(row[3])
        except (ValueError, IndexError):
            continue
        prev, last[conn] = last.get(conn), t
        if not lo <= t <= hi:
            continue
        if nreq == 1:
            is_late = age * 1000 > timeout_ms / 2
        else:
            is_late = prev is None or (t - prev) * 1000 > interval_ms + timeout_ms / 2
        late += is_late
        on_time += not is_late
    return on_time, late
