"""tests/integration/test_backup_restore_step.py — restore as a failover step.

A cluster's built-in `restore` names a backup job: when a failover reaches
RESTORING, the daemon runs `vigil restore` of that job's latest snapshot
onto the new primary, into a target directory or streamed into a command,
journaled as restore_started / restored.  The daemon's jobs here are real
scheduled backups (one of a directory, one of a command's output), run
before the primary dies.
"""

import json
import os
import subprocess
import sys

from conftest import binary
from helpers import wait_for


def backups(env):
    r = env.vigilctl("backups", "--json")
    assert r.returncode == 0, r.stderr
    return {b["name"]: b for b in json.loads(r.stdout)["backups"]}


def events(env):
    r = env.vigilctl("events", "web", "--json", "-n", "1000")
    assert r.returncode == 0, r.stderr
    return [json.loads(ln) for ln in r.stdout.splitlines()]


def repo_with_key(env, name):
    repo, key = env.path(name), env.path(name + ".key")
    for args in (["keygen", key], ["init", "-r", repo, "--key", key]):
        p = subprocess.run([binary("vigil"), *args], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
    return repo, key


def test_failover_restores_a_directory_onto_the_new_primary(make_env):
    env = make_env(start_vigil=False)  # only for its temp dir and ports
    src = env.path("src")
    os.makedirs(os.path.join(src, "sub"))
    with open(os.path.join(src, "sub", "data.txt"), "w") as f:
        f.write("precious\n" * 5000)
    repo, key = repo_with_key(env, "repo")
    target = env.path("restored", "{new_primary}-{epoch}")
    env.top = (f'backups = ( {{ name = "www"; source = "{src}"; repository = "{repo}";'
               f' key_file = "{key}"; interval = "1h"; jitter = "0ms"; }} );')
    env.extra = f'restore = {{ backup = "www"; target = "{target}"; delete = true; }};'
    # What b's directory held before: stale, and not in the snapshot.
    os.makedirs(env.path("restored", "b-1", "sub", "old"))
    for stale in (("postmaster.pid",), ("sub", "old", "wal.000001")):
        with open(env.path("restored", "b-1", *stale), "w") as f:
            f.write("stale\n")
    with open(env.conf, "w") as f:
        f.write(env.config_text())
    env.start_daemon()
    wait_for(lambda: backups(env)["www"]["runs"] == 1, 30, what="the first backup")

    # The plan names the restore, as it will run.
    r = env.vigilctl("failover", "web", "--to", "b", "--dry-run")
    assert r.returncode == 0, r.stderr
    restore = [ln for ln in r.stdout.splitlines() if "[restoring] restore on b:" in ln]
    assert restore, r.stdout
    assert f"/proc/self/exe restore -r {repo} --key {key} --job www --snapshot latest " \
        f"--no-progress --delete {env.path('restored', 'b-1')}" in restore[0], restore

    env.backends["a"].kill()
    env.hook.wait_event("failover", timeout=15)
    env.wait_primary("b", timeout=5)
    with open(env.path("restored", "b-1", "sub", "data.txt")) as f:
        assert f.read() == "precious\n" * 5000
    # delete = true: the directory now holds the snapshot and nothing else.
    assert sorted(os.listdir(env.path("restored", "b-1"))) == ["sub"]
    assert os.listdir(env.path("restored", "b-1", "sub")) == ["data.txt"]
    kinds = [e["event"] for e in events(env)]
    assert kinds.index("promoted") < kinds.index("restore_started") < \
        kinds.index("restored") < kinds.index("failover"), kinds


def test_failover_streams_a_dump_into_a_command(make_env):
    env = make_env(start_vigil=False)
    repo, key = repo_with_key(env, "dbrepo")
    dump = env.path("dump.bin")
    with open(dump, "wb") as f:
        f.write(os.urandom(1 << 20))
    producer = [sys.executable, "-c", "import shutil,sys; shutil.copyfileobj(open(sys.argv[1],"
                "'rb'), sys.stdout.buffer)", dump]
    consumer = [sys.executable, "-c", "import sys; d = sys.stdin.buffer.read(); "
                "open(sys.argv[1], 'wb').write(d)", env.path("into-{new_primary}.bin")]
    env.top = (f'backups = ( {{ name = "db"; command = {json.dumps(producer)};'
               f' stdin_name = "app.dump"; repository = "{repo}"; key_file = "{key}";'
               f' interval = "1h"; jitter = "0ms"; }} );')
    env.extra = f'restore = {{ backup = "db"; command = {json.dumps(consumer)}; }};'
    with open(env.conf, "w") as f:
        f.write(env.config_text())
    env.start_daemon()
    wait_for(lambda: backups(env)["db"]["runs"] == 1, 30, what="the first backup of the dump")
    p = subprocess.run([binary("vigil"), "snapshots", "-r", repo, "--key", key],
                       capture_output=True, text=True)
    assert p.returncode == 0 and "stream:app.dump" in p.stdout, p.stdout + p.stderr

    env.backends["a"].kill()
    env.hook.wait_event("failover", timeout=15)
    with open(env.path("into-b.bin"), "rb") as f, open(dump, "rb") as g:
        assert f.read() == g.read()
    assert "restored" in [e["event"] for e in events(env)]
