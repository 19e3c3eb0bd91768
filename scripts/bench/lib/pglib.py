"""scripts/bench/lib/pglib.py — PostgreSQL for scripts/bench/pg-failover.

The servers, the writer and the TCP-mode HAProxy are those of the
integration test (tests/integration/pg.py), imported, not copied.  What is
here fits them to a bench: the bench's network namespace entered by the
bench process itself (the writer's psycopg2 connections run in it, not
in a child), a cluster whose directory is the run's own and whose servers
are stopped by the bench's cleanup stack even on Ctrl-C, HAProxy stopped
the same way, vigil's config at the bench's probe settings, and vigil's
journal read as times from the kill.
"""

import ctypes
import os
import sys

import benchlib
from benchlib import CLEANUP, BenchError, cfg_list, cfg_str, iso_epoch, read_jsonl

sys.path.insert(0, os.path.join(benchlib.REPO, "tests", "integration"))
import pg  # noqa: E402  (tests/integration/pg.py; needs python3-psycopg2)

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

# PostgreSQL's errors, which pg.py lets through: a run's set-up catches them.
SETUP_ERRORS = (RuntimeError, AssertionError, OSError, pg.psycopg2.Error)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise BenchError(f"setns: {os.strerror(e)}")


def enter_netns(ns):
    """Move this process into ns's network namespace until cleanup.

    Must run before any thread starts: setns changes the calling thread
    only, and threads started later inherit it.  The namespace's destroy()
    kills every process in it, so cleanup moves us back out first.
    """
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    fd = os.open(f"/run/netns/{ns.name}", os.O_RDONLY)
    try:
        _setns(fd)
    finally:
        os.close(fd)

    def leave():
        try:
            _setns(home)
        finally:
            os.close(home)
    CLEANUP.push(leave)


def os_user():
    """Who runs the servers (postgres, or a temporary user removed at cleanup)."""
    user = pg.OsUser()
    CLEANUP.push(user.close)
    return user


def make_template(user, parent):
    """initdb --data-checksums once per bench; every run's primary copies it."""
    try:
        return pg.make_template(user, parent)
    except SETUP_ERRORS as e:
        raise BenchError(f"initdb: {e}") from e


class Cluster(pg.PgCluster):
    """pg.PgCluster in the run's directory d, its servers stopped at cleanup."""

    def __init__(self, user, template, d, **kw):
        super().__init__(user, template, **kw)
        os.rmdir(self.dir)  # the temp dir PgCluster made: we use the run's
        self.dir = d
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)  # the servers' OS user must reach its data dirs
        self.env_file = self.path("pg.env")
        CLEANUP.push(self.stop)

    def stop(self):
        """Every postmaster and its process groups, once (a group id kept
        for later could by then be another program's); the files stay."""
        for n in self.nodes.values():
            n.stop()
            n.pgids.clear()


def start_haproxy(d, nodes, primary, redispatch=None):
    """pg.HAProxy (mode tcp, backend pg, non-primaries disabled), stopped at cleanup.

    redispatch: None keeps the test's `option redispatch 1` (every retry may
    go to another server); an integer N makes it `option redispatch N` (on
    every Nth retry; -1 = the last retry only, haproxy's plain default).
    """
    ha = pg.HAProxy(d, nodes, primary)
    CLEANUP.push(ha.stop)
    if redispatch is not None:
        with open(ha.conf) as f:
            text = f.read()
        if "    option redispatch 1\n" not in text:
            raise BenchError(f"{ha.conf}: no `option redispatch 1` line to change")
        with open(ha.conf, "w") as f:
            f.write(text.replace("    option redispatch 1\n",
                                 f"    option redispatch {redispatch}\n"))
    try:
        return ha.start()
    except SETUP_ERRORS as e:
        raise BenchError(f"haproxy: {e}") from e


def vigil_conf(d, c, nodes, ha, a, max_lag=1048576):
    """vigil.conf for cluster "db": the integration test's probes (a tcp
    probe and the exec observer per node), at the bench's interval, tcp
    timeout, rise and fall; the fence and promote hooks; haproxy with the
    standbys left out.  nodes: [(PgNode, role)]."""
    env = c.env_file
    node_txt = ",\n    ".join(
        f"{{ name = {cfg_str(n.name)}; address = {cfg_str(n.address)}; role = {cfg_str(r)}; }}"
        for n, r in nodes)
    observe = [os.path.join(pg.HOOKS, "observe"), env, "{node}", "{host}", "{port}"]
    common = f"interval = {cfg_str(a.interval)}; rise = {a.rise}; fall = {a.fall};"
    return f"""\
state_dir = {cfg_str(os.path.join(d, "state"))};
control = {{ socket = {cfg_str(os.path.join(d, "vigil.sock"))}; }};
clusters = ( {{
  name = "db";
  nodes = ( {node_txt} );
  probes = (
    {{ type = "tcp"; timeout = {cfg_str(a.timeout)}; {common} }},
    {{ type = "exec"; lag = true; command = {cfg_list(observe)};
       timeout = {cfg_str(a.exec_timeout)}; {common} }} );
  balancers = ( {{ type = "haproxy"; backend = "pg"; socket = {cfg_str(ha.sock)};
                  state_file = {cfg_str(ha.state_file)}; standby = "out"; timeout = "5s"; }} );
  hooks = {{
    fence = {cfg_list([os.path.join(pg.HOOKS, "fence"), env, "{node}", "{epoch}"])};
    promote = {cfg_list([os.path.join(pg.HOOKS, "promote"), env, "{node}", "{epoch}"])};
    timeout = "30s";
  }};
  max_lag = {max_lag};
}} );
"""


def cluster_healthy(st, names):
    """vigil's status document says: healthy, every named node up, its lag known."""
    if not st or len(st.get("clusters", [])) != 1:
        return False
    cl = st["clusters"][0]
    nodes = {n.get("name"): n for n in cl.get("nodes", [])}
    return (cl.get("state") == "healthy"
            and all(nodes.get(x, {}).get("health") == "up"
                    and nodes.get(x, {}).get("lag") is not None for x in names))


# Journal records that mean a failover did not go as it should.
BAD_EVENTS = ("failover_failed", "no_candidate", "reroute_failed", "failover_interrupted",
              "failover_suppressed", "failover_limit", "tilt", "retry")


def journal_ms(d, kill_wall, old="a", new="b"):
    """({step: ms from the kill}, [bad events]) from STATE_DIR/journal.jsonl.

    Steps: node_down (of old), fenced, promoted, failover (done: hooks run,
    HAProxy's servers set).  Journal stamps are wall-clock ms, truncated;
    a record up to 2 ms before the kill is that truncation.
    """
    want = {"node_down": ("node", old), "fenced": ("node", old),
            "promoted": ("new_primary", new), "failover": ("new_primary", new)}
    got, bad = {}, []
    for ev in read_jsonl(os.path.join(d, "state", "journal.jsonl")):
        name, t = ev.get("event"), iso_epoch(ev.get("ts"))
        if t is None or t < kill_wall - 0.002:
            continue
        if name in BAD_EVENTS:
            bad.append(name)
        key = want.get(name)
        if key and name not in got and ev.get(key[0]) == key[1]:
            got[name] = 1000 * (t - kill_wall)
    return got, sorted(set(bad))
