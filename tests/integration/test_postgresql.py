"""tests/integration/test_postgresql.py — PostgreSQL for real.

Real servers (tests/integration/pg.py) run by a non-root OS user on free
loopback ports: a primary made with initdb --data-checksums and streaming
standbys made with pg_basebackup -R.

1. The hooks of scripts/hooks/postgresql alone: the observer's role and lag,
   fence, promote (its epoch token refuses a stale promote), follow for a
   second standby, rejoin through pg_rewind (over a stand-in ssh), and a
   fence whose host ssh cannot reach.
2. End to end: vigil with an exec observer (role and lag) and a tcp probe
   per node, max_lag, the fence and promote hooks, and haproxy in TCP mode
   in front.  A writer inserts numbered rows through haproxy; the primary's
   postmaster is killed with SIGKILL; vigil fences, promotes and reroutes.
   With synchronous_standby_names set, every acknowledged row must be on
   the new primary; the old primary stays fenced until `vigilctl rejoin`.
   The downtime (SIGKILL to the first row acknowledged by the new primary)
   is printed (pytest -s shows it).
3. A standby whose real replay lag is over max_lag (replay paused) is not
   promoted when the primary dies, nor by `vigilctl failover`, only with
   --force.
"""

import os
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import binary, cfg_list, cfg_str
from helpers import Proc, clean_env, unix_request, wait_for, write_script
import pg
from pg import HOOKS, HAProxy, OsUser, PgCluster, Writer


@pytest.fixture(scope="module")
def pg_user():
    user = OsUser()
    yield user
    user.close()


@pytest.fixture(scope="module")
def template(pg_user):
    d = tempfile.mkdtemp(prefix="vigil-pg-template-")
    os.chmod(d, 0o755)
    try:
        yield pg.make_template(pg_user, d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def make_cluster(pg_user, template, request):
    clusters = []

    def make(**kw):
        c = PgCluster(pg_user, template, **kw)
        clusters.append(c)
        return c
    yield make
    failed = getattr(getattr(request.node, "rep_call", None), "failed", False)
    for c in clusters:
        if failed:
            print(c.logs())
        c.close()


def ok(r, what):
    assert r.returncode == 0, f"{what}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    return r


def observe(c, node):
    r = ok(c.hook("observe", node), f"observe {node}")
    lag, role = r.stdout.split()
    return int(lag), role


def write_fake_ssh(c):
    """ssh_command stand-in: runs the remote command line with sh as the target user."""
    calls = c.path("ssh.calls")
    run_as = f'runuser -u "${{target%@*}}" -- ' if os.geteuid() == 0 else ""
    return write_script(c.path("fake-ssh"), f"""#!/bin/sh
while [ $# -gt 0 ]; do
    case $1 in -o) shift 2 ;; --) shift; break ;; *) break ;; esac
done
target=$1
shift
printf '%s\\n' "$target $1" >>{calls}
cd /
exec {run_as}sh -c "$1"
""")


def test_hooks_fence_promote_follow_rejoin(make_cluster, pg_user):
    c = make_cluster(sync_names="*")
    a = c.primary("a", "alter system set synchronous_standby_names = '*'")
    b = c.standby("b", of=a)
    cn = c.standby("c", of=a)
    a.sql("create table t(id int primary key, pad text)")
    a.sql("insert into t select g, 'x' from generate_series(1, 100) g")

    # The observer: a primary lags 0; c, its replay paused, falls behind by
    # the WAL a writes meanwhile, while b keeps up.
    assert observe(c, "a") == (0, "primary")
    cn.sql("select pg_wal_replay_pause()")
    a.sql("insert into t select g, repeat('x', 1000) from generate_series(101, 3000) g")
    wait_for(lambda: observe(c, "b")[0] == 0, 10, what="b's lag 0")
    lag_c, role = observe(c, "c")
    assert role == "standby" and lag_c > 1_000_000, lag_c
    bad = c.hook("observe", "a", "127.0.0.1", str(pg.free_port()))
    assert bad.returncode == 1 and "127.0.0.1" in bad.stdout + bad.stderr

    # Fence the old primary: stopped, marked, not serving; a second run is a no-op.
    ok(c.hook("fence", "a", "5"), "fence a")
    assert not a.running() and not a.accepts()
    assert os.path.exists(a.file("standby.signal")) and os.path.exists(a.file("vigil.fenced"))
    ok(c.hook("fence", "a", "5"), "fence a again")
    with open(a.file("postgresql.auto.conf")) as f:
        assert f.read().count("primary_conninfo = ''") == 1

    # Promote b for epoch 5 (the env of vigil's hook works as well as argv).
    ok(c.hook("promote", extra_env={"VIGIL_NODE": "b", "VIGIL_EPOCH": "5"}), "promote b")
    assert b.in_recovery() is False
    with open(b.file("vigil.epoch")) as f:
        assert f.read().strip() == "5"
    ok(c.hook("promote", "b", "5"), "promote b again (idempotent)")
    stale = c.hook("promote", "b", "4")
    assert stale.returncode == 3 and "epoch 5 is recorded" in stale.stderr, stale.stderr
    # b was left alone after a failed over: it takes writes without waiting.
    assert b.value("show synchronous_standby_names") == ""
    b.sql("insert into t values (3001, 'after failover')")

    # c follows b: every node but b and the old primary a moves.
    cn.sql("select pg_wal_replay_resume()")
    ok(c.hook("follow", "b", extra_env={"VIGIL_OLD_PRIMARY": "a"}), "follow b")
    assert c.streams(b, "c")
    wait_for(lambda: cn.sql("select 1 from t where id = 3001"), 10, what="c to replay row 3001")
    assert b.value("show synchronous_standby_names") == "*"

    # Rejoin a through pg_rewind, its commands going through "ssh".
    ssh_env = c.write_env(c.path("pg-ssh.env"), ssh={"a": f"{pg_user.name}@127.0.0.1"},
                          ssh_command=write_fake_ssh(c))
    ok(c.hook("rejoin", "a", env_file=ssh_env), "rejoin a")
    a.remember_pid()
    assert c.streams(b, "a") and a.in_recovery() is True
    assert not os.path.exists(a.file("vigil.fenced"))
    wait_for(lambda: a.sql("select 1 from t where id = 3001"), 10, what="a to replay row 3001")
    assert a.value("select count(*) from t") == 3001
    with open(c.path("ssh.calls")) as f:
        assert "pg_rewind" in f.read()
    assert observe(c, "b") == (0, "primary")
    assert observe(c, "a")[1] == "standby"
    ok(c.hook("rejoin", "a"), "rejoin a again (already streaming)")

    # A fence whose host ssh cannot reach: only a node that gives no answer counts as fenced.
    down_env = c.write_env(c.path("pg-down.env"), ssh={"a": "nobody@192.0.2.1"},
                           ssh_command=write_script(c.path("ssh-down"), "#!/bin/sh\nexit 255\n"))
    r = c.hook("fence", "a", "6", env_file=down_env)
    assert r.returncode == 1 and "still answers" in r.stderr, r.stderr
    # stop_mode = fast: a clean shutdown (a planned switchover's).
    fast_env = c.write_env(c.path("pg-fast.env"), extra="stop_mode=fast\n")
    r = ok(c.hook("fence", "a", "6", env_file=fast_env), "fence a, fast")
    assert "stopping a (fast)" in r.stderr and not a.running()
    with open(a.log) as f:
        assert "received fast shutdown request" in f.read()
    r = ok(c.hook("fence", "a", "6", env_file=down_env), "fence an unreachable, stopped a")
    assert "fenced without marks" in r.stderr
    strict_env = c.write_env(c.path("pg-strict.env"), ssh={"a": "nobody@192.0.2.1"},
                             ssh_command=c.path("ssh-down"), extra="unreachable=refuse\n")
    r = c.hook("fence", "a", "6", env_file=strict_env)
    assert r.returncode == 1 and "unreachable = refuse" in r.stderr, r.stderr

    # The env file is read strictly: an unknown key is an error with its line.
    bad_env = c.write_env(c.path("pg-bad.env"), extra="stop_mod=fast\n")
    r = c.hook("promote", "b", "7", env_file=bad_env)
    assert r.returncode == 2 and 'unknown setting "stop_mod"' in r.stderr, r.stderr
    assert "line " in r.stderr


# haproxy's srv_admin_state bits for a server that takes no new connections:
# forced, inherited or resolver maintenance (0x23), forced or inherited drain (0x18).
OUT = 0x23 | 0x18


def render_vigil_conf(d, c, nodes, ha=None, max_lag=1048576):
    """vigil.conf for cluster "db": a tcp probe and the observer per node, the
    fence and promote hooks, haproxy (when given) with standbys left out."""
    env = c.env_file
    node_txt = ",\n    ".join(
        f'{{ name = {cfg_str(n.name)}; address = {cfg_str(n.address)}; role = {cfg_str(role)}; }}'
        for n, role in nodes)
    observe_argv = [os.path.join(HOOKS, "observe"), env, "{node}", "{host}", "{port}"]
    balancers = ""
    if ha is not None:
        balancers = (f'balancers = ( {{ type = "haproxy"; backend = "pg"; '
                     f'socket = {cfg_str(ha.sock)}; state_file = {cfg_str(ha.state_file)}; '
                     f'standby = "out"; timeout = "5s"; }} );')
    return f"""\
state_dir = {cfg_str(os.path.join(d, 'state'))};
control = {{ socket = {cfg_str(os.path.join(d, 'vigil.sock'))}; }};
clusters = ( {{
  name = "db";
  nodes = ( {node_txt} );
  probes = (
    {{ type = "tcp"; interval = "200ms"; timeout = "200ms"; rise = 2; fall = 2; }},
    {{ type = "exec"; lag = true; command = {cfg_list(observe_argv)};
       interval = "200ms"; timeout = "2s"; rise = 2; fall = 2; }} );
  {balancers}
  hooks = {{
    fence = {cfg_list([os.path.join(HOOKS, "fence"), env, "{node}", "{epoch}"])};
    promote = {cfg_list([os.path.join(HOOKS, "promote"), env, "{node}", "{epoch}"])};
    timeout = "30s";
  }};
  max_lag = {max_lag};
}} );
"""


class Vigil:
    """vigil itself, on a config of ours (conftest's VigilEnv is nginx-only)."""

    def __init__(self, d, conf_text):
        self.dir = d
        self.sock = os.path.join(d, "vigil.sock")
        self.conf = os.path.join(d, "vigil.conf")
        self.log = os.path.join(d, "vigil.log")
        with open(self.conf, "w") as f:
            f.write(conf_text)
        self.proc = None

    def check(self):
        return subprocess.run([binary("vigil"), "-t", "-c", self.conf], capture_output=True,
                              text=True, timeout=30)

    def start(self):
        self.proc = Proc([binary("vigil"), "-c", self.conf], self.log, env=clean_env())
        return self

    def cluster(self):
        code, doc, raw = unix_request(self.sock, "GET", "/v1/status")
        assert code == 200, raw
        return doc["clusters"][0]

    def cluster_or_none(self):
        try:
            return self.cluster()
        except (OSError, AssertionError):
            return None

    def node(self, name):
        return next(n for n in self.cluster()["nodes"] if n["name"] == name)

    def vigilctl(self, *args):
        return subprocess.run([binary("vigilctl"), "-s", self.sock, *args], capture_output=True,
                              text=True, timeout=30, env=clean_env())

    def output(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None:
            rc = self.proc.stop(timeout=10)
            self.proc = None
            return rc
        return 0


@pytest.fixture
def deployment(make_cluster, request):
    """Stops what a test puts in it, "vigil" (which must exit 0 on SIGTERM and
    log no sanitizer report) and "haproxy", before the PostgreSQL servers."""
    parts = {}
    yield parts
    failed = getattr(getattr(request.node, "rep_call", None), "failed", False)
    v = parts.get("vigil")
    rc = v.stop() if v else 0
    if "haproxy" in parts:
        parts["haproxy"].stop()
    log = v.output() if v else ""
    if failed:
        print("----- vigil log, last 120 lines:\n" + "\n".join(log.splitlines()[-120:]))
    assert rc == 0, f"vigil exited {rc} on SIGTERM"
    for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        at = log.find(marker)
        assert at < 0, f"sanitizer report in vigil's log:\n{log[max(0, at - 200):at + 3000]}"


def healthy(v, names):
    c = v.cluster_or_none()
    return (c is not None and c["state"] == "healthy"
            and all(n["health"] == "up" and n["lag"] is not None for n in c["nodes"]
                    if n["name"] in names))


def test_failover_end_to_end_with_haproxy(make_cluster, deployment):
    c = make_cluster(sync_names="*")
    a = c.primary("a", "alter system set synchronous_standby_names = '*'")
    b = c.standby("b", of=a)
    wait_for(lambda: a.value("select sync_state from pg_stat_replication") == "sync", 10,
             what="b to be a's synchronous standby")
    a.sql("create table acked(id int primary key)")

    ha = deployment["haproxy"] = HAProxy(c.dir, [a, b], primary="a").start()
    v = Vigil(c.dir, render_vigil_conf(c.dir, c, [(a, "primary"), (b, "standby")], ha))
    check = v.check()
    if check.returncode != 0:
        pytest.skip("haproxy controller not built yet: vigil -t refuses a haproxy balancer: "
                    f"{check.stdout}{check.stderr}")
    deployment["vigil"] = v.start()
    wait_for(lambda: healthy(v, ("a", "b")), 15, what="vigil: cluster healthy, both up, lags known")
    assert v.node("a")["lag"] == 0 and v.node("b")["lag"] < 1048576

    w = Writer(ha.port)
    w.start()
    try:
        wait_for(lambda: len(w.acked) >= 50, 10, what="50 rows acknowledged through haproxy")
        t_kill = time.monotonic()
        a.kill9()
        wait_for(lambda: v.cluster()["primary"] == "b", 20, what="vigil to promote b")
        wait_for(lambda: len(w.acks_after(t_kill, port=b.port)) >= 20, 15,
                 what="the writer to resume on b through haproxy")
    finally:
        w.stop()
    first = w.acks_after(t_kill, port=b.port)[0]
    on_a_late = len(w.acks_after(t_kill, port=a.port))
    print(f"\ndowntime: {first[1] - t_kill:.3f} s from SIGKILL of a's postmaster to the first "
          f"insert acknowledged by b (row {first[0]}); longest gap between acknowledgements "
          f"{w.longest_gap():.3f} s; {len(w.acked)} rows acknowledged ({on_a_late} by a's "
          f"orphaned backend after the kill), {w.failures} attempts failed")
    assert not w.acks_after(first[1], port=a.port), "a acknowledged a row after b took over"

    # Every acknowledged row is on the new primary.
    on_b = {r[0] for r in b.sql("select id from acked")}
    missing = sorted(w.ids() - on_b)
    assert not missing, f"acknowledged but not on b: {missing[:20]} ({len(missing)} rows)"
    assert b.in_recovery() is False
    with open(b.file("vigil.epoch")) as f:
        epoch = int(f.read())
    cl = v.cluster()
    assert epoch == cl["epoch"] >= 1
    assert os.path.exists(a.file("vigil.fenced")) and os.path.exists(a.file("standby.signal"))
    assert v.node("a")["role"] == "fenced"
    states = ha.server_states()
    assert not states["b"] & OUT and states["a"] & OUT, states

    # Back as a standby of b (pg_rewind), a is up but stays fenced until `vigilctl rejoin`.
    ok(c.hook("rejoin", "a"), "rejoin a")
    a.remember_pid()
    wait_for(lambda: v.node("a")["health"] == "up", 10, what="vigil to see a up again")
    for _ in range(5):
        assert v.node("a")["role"] == "fenced"
        assert ha.server_states()["a"] & OUT
        time.sleep(0.2)
    r = v.vigilctl("rejoin", "db", "a")
    assert r.returncode == 0, r.stdout + r.stderr
    wait_for(lambda: v.node("a")["role"] == "standby", 5, what="a readmitted as a standby")
    assert v.cluster()["primary"] == "b"


def test_a_standby_over_max_lag_is_promoted_only_when_forced(make_cluster, deployment):
    c = make_cluster()
    a = c.primary("a")
    b = c.standby("b", of=a)
    a.sql("create table t(id int primary key, pad text)")
    v = deployment["vigil"] = Vigil(c.dir, render_vigil_conf(
        c.dir, c, [(a, "primary"), (b, "standby")], max_lag=1048576)).start()
    wait_for(lambda: healthy(v, ("a", "b")), 15, what="vigil: cluster healthy, both up, lags known")

    # b receives everything but replays nothing: a real replay lag of ~3.5 MB.
    b.sql("select pg_wal_replay_pause()")
    a.sql("insert into t select g, repeat('x', 1000) from generate_series(1, 3000) g")
    wait_for(lambda: (v.node("b")["lag"] or 0) > 1048576, 10, what="b's lag over max_lag")
    a.kill9()
    wait_for(lambda: v.cluster()["state"] == "failover_pending", 10,
             what="failover_pending: a is down, b lags too much")
    time.sleep(1.0)
    assert v.cluster()["primary"] == "a" and b.in_recovery() is True
    assert v.node("b")["lag"] > 1048576  # the dead primary's WAL b holds but has not replayed

    r = v.vigilctl("failover", "db", "--to", "b")
    assert r.returncode == 1 and "over max_lag" in r.stdout + r.stderr, r.stdout + r.stderr
    assert b.in_recovery() is True
    r = v.vigilctl("failover", "db", "--to", "b", "--force")
    assert r.returncode == 0, r.stdout + r.stderr
    wait_for(lambda: v.cluster()["primary"] == "b", 10, what="b promoted by the forced failover")
    assert b.in_recovery() is False and b.value("select count(*) from t") == 3000
    assert v.node("a")["role"] == "fenced"
