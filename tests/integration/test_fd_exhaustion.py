"""tests/integration/test_fd_exhaustion.py — vigil's own faults are never a node's.

Found by a hostile-input probe: with a low RLIMIT_NOFILE, idle connections
on the control socket made libevent's accept loop spin and every new probe
socket fail with EMFILE, which vigil took for a dead primary and failed
over.  Now the control API has a connection cap and keeps descriptors for
the probes, accept errors back off, a probe vigil could not run never
counts against the node (TILT instead), and start-up refuses a limit the
config cannot live with.
"""

import json
import os
import socket
import subprocess
import time

from conftest import binary
from helpers import wait_for

TCP_PROBES = ('{ type = "tcp"; interval = "100ms"; timeout = "100ms"; rise = 1; fall = 2; }')


def tcp_env(make_env, **kw):
    # tcp probes open a new socket on every run: exactly what EMFILE breaks.
    return make_env(start_vigil=False, probes=lambda env: TCP_PROBES,
                    extra='cooldown = "0ms";', **kw)


def journal(env):
    try:
        with open(env.path("state", "journal.jsonl")) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def hold_connections(path, n, payload=b"GET /v1/sta"):
    """n unix connections to the control socket, each with half a request line."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(path)
        except BlockingIOError:
            pass
        try:
            s.send(payload)
        except OSError:
            pass  # queued in the backlog, not accepted yet
        socks.append(s)
    return socks


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_idle_control_connections_under_a_low_fd_limit_never_fail_over(make_env):
    env = tcp_env(make_env)
    env.start_daemon(wrap=["prlimit", "--nofile=128:128", "--"])
    lines_before = len(env.log().splitlines())
    socks = hold_connections(env.sock, 100)
    try:
        time.sleep(1.5)  # ~15 probe rounds with the connections held
        # The gate accepted at most its cap (32): the rest wait in the backlog,
        # so vigil holds far fewer descriptors than 100 connections would take.
        assert open_fds(env.vigil.pid) < 100, sorted(os.listdir(f"/proc/{env.vigil.pid}/fd"))
        assert env.vigil.alive()
    finally:
        for s in socks:
            s.close()
    wait_for(lambda: env._status_or_none() is not None, 15, what="status after the flood")
    web = env.cluster()
    assert web["primary"] == "a" and web["epoch"] == 0, web
    assert env.promote_calls() == []
    events = [r["event"] for r in journal(env)]
    assert "node_down" not in events and "failover_started" not in events, events
    # No accept loop spinning: a handful of lines, not millions.
    assert len(env.log().splitlines()) - lines_before < 200, env.log()[-3000:]


def test_fd_limit_too_low_for_the_config_refuses_to_start(make_env):
    env = tcp_env(make_env)
    before = env.upstream_text()
    p = subprocess.run(["prlimit", "--nofile=40:40", "--", binary("vigil"), "-c", env.conf],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    out = p.stdout + p.stderr
    assert "file descriptors" in out and "hard" in out and "limit" in out, out
    assert env.upstream_text() == before, "a refused start must touch nothing"
    assert not os.path.exists(env.path("state", "journal.jsonl"))


def test_probes_failing_with_emfile_enter_tilt_not_failover(make_env):
    env = tcp_env(make_env, top='tilt_period = "3s";')
    env.start_daemon()
    pid = env.vigil.pid
    # Only stdio fits under a soft limit of 3: every new socket fails (EMFILE),
    # while the descriptors vigil already holds (journal, listener) still work.
    subprocess.run(["prlimit", f"--pid={pid}", "--nofile=3:"], check=True)
    try:
        wait_for(lambda: any(r["event"] == "tilt" for r in journal(env)), 10,
                 what="a tilt record in the journal")
        # Clients knock meanwhile: accept fails with EMFILE, and vigil must
        # back off rather than retry in a loop (it once logged 2.6 M lines in 15 s).
        lines_before = len(env.log().splitlines())
        socks = hold_connections(env.sock, 5, payload=b"GET /v1/status HTTP/1.0\r\n\r\n")
        time.sleep(1.5)  # fifteen probe rounds, every one failing with EMFILE
        added = env.log().splitlines()[lines_before:]
        assert len(added) < 100, "\n".join(added[-50:])
        assert any("not accepting connections" in line and "EMFILE" in line for line in added), \
            "\n".join(added[-50:])
    finally:
        subprocess.run(["prlimit", f"--pid={pid}", "--nofile=1024:"], check=True)
    # The clients that waited are served once descriptors are back.
    for s in socks:
        s.setblocking(True)
        s.settimeout(5)
        assert s.recv(12) == b"HTTP/1.0 200", "a waiting client was not served"
        s.close()
    tilt = next(r for r in journal(env) if r["event"] == "tilt")
    assert "EMFILE" in tilt["reason"] and "vigil cannot run its own probes" in tilt["reason"]
    events = [r["event"] for r in journal(env)]
    assert "node_down" not in events and "failover_started" not in events, events
    # Once vigil can probe again, TILT ends after tilt_period and nothing moved.
    env.hook.wait_event("tilt_over", timeout=15)
    web = env.cluster()
    assert web["primary"] == "a" and web["epoch"] == 0 and web["state"] == "healthy", web
    assert env.promote_calls() == []
    # The tilt alert itself got out once sockets were available again.
    assert any(e["event"] == "tilt" for e in env.hook.events)
