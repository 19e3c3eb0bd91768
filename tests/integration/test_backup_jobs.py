"""tests/integration/test_backup_jobs.py — the daemon's scheduled backups.

A job backs a directory up into a local repository in a child process
(`vigil backup`), on start-up when it was never done, then on demand
(`vigilctl backup now`); its last good run survives a restart; an RPO that
runs out is alerted once and cleared by the next good run; a failing job
is alerted.
"""

import json
import os
import subprocess

import pytest

from conftest import binary
from helpers import Proc, free_port, port_open, wait_for


def backups(env):
    r = env.vigilctl("backups", "--json")
    assert r.returncode == 0, r.stderr
    return {b["name"]: b for b in json.loads(r.stdout)["backups"]}


def start_with_jobs(make_env):
    env = make_env(start_vigil=False)
    src, repo, key = env.path("src"), env.path("repo"), env.path("bk.key")
    os.makedirs(src)
    with open(os.path.join(src, "data.txt"), "w") as f:
        f.write("precious\n" * 1000)
    for args in (["keygen", key], ["init", "-r", repo, "--key", key]):
        p = subprocess.run([binary("vigil"), *args], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
    env.top = (f'backups = ( {{ name = "www"; source = "{src}"; repository = "{repo}";'
               f' key_file = "{key}"; interval = "1h"; jitter = "0ms"; rpo = "3s";'
               f' alerts = ( {{ type = "webhook"; url = "{env.hook.url}"; }} ); }},\n'
               f'  {{ name = "broken"; source = "{env.path("nowhere")}"; repository = "{repo}";'
               f' key_file = "{key}"; interval = "1h"; jitter = "0ms";'
               f' alerts = ( {{ type = "webhook"; url = "{env.hook.url}"; }} ); }} );')
    with open(env.conf, "w") as f:
        f.write(env.config_text())
    env.start_daemon()
    return env, repo, key


def snapshots(repo, key):
    p = subprocess.run([binary("vigil"), "snapshots", "-r", repo, "--key", key, "--json"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()]


def test_scheduled_backup_runs_and_rpo_is_watched(make_env):
    env, repo, key = start_with_jobs(make_env)
    # Never done: the first run starts at once.
    wait_for(lambda: backups(env)["www"]["runs"] == 1, 20, what="the first backup")
    www = backups(env)["www"]
    assert www["last_ok_age_s"] is not None and www["encrypted"] is True, www
    snaps = snapshots(repo, key)
    assert len(snaps) == 1 and snaps[0]["job"] == "www", snaps

    # A job that cannot run is alerted, and never counts as done.
    ev = env.hook.wait_event("backup_failed", timeout=20,
                             pred=lambda e: e.get("cluster") == "backup:broken")
    assert ev["severity"] == "critical"
    assert backups(env)["broken"]["runs"] == 0

    # The RPO (3 s) runs out: alerted once; a good run clears it.
    env.hook.wait_event("backup_rpo_exceeded", timeout=10,
                        pred=lambda e: e.get("cluster") == "backup:www")
    assert backups(env)["www"]["rpo_exceeded"] is True
    r = env.vigilctl("backup", "now", "www")
    assert r.returncode == 0, r.stderr
    env.hook.wait_event("backup_rpo_ok", timeout=20, pred=lambda e: e.get("cluster") == "backup:www")
    assert backups(env)["www"]["runs"] == 2
    assert len(snapshots(repo, key)) == 2
    assert len(env.hook.of("backup_rpo_exceeded")) == 1

    r = env.vigilctl("backup", "now", "nosuch")
    assert r.returncode == 1 and "no backup job" in r.stderr, r.stderr

    # The last good run survives a restart (no new run: the interval is 1 h).
    assert env.stop_vigil() == 0
    env.start_daemon()
    www = backups(env)["www"]
    assert www["runs"] == 2 and www["last_ok_age_s"] is not None and www["state"] == "idle", www


def test_drill_measures_the_restore_against_rto(make_env):
    env = make_env(start_vigil=False)
    src, repo = env.path("src"), env.path("repo")
    os.makedirs(src)
    with open(os.path.join(src, "big.bin"), "wb") as f:
        f.write(os.urandom(24 << 20))  # a restore that cannot take under 1 ms
    p = subprocess.run([binary("vigil"), "init", "-r", repo], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    env.top = (f'backups = ( {{ name = "db"; source = "{src}"; repository = "{repo}";'
               f' interval = "1h"; jitter = "0ms"; rto = "1ms";'
               f' alerts = ( {{ type = "webhook"; url = "{env.hook.url}"; }} ); }} );')
    with open(env.conf, "w") as f:
        f.write(env.config_text())
    env.start_daemon()
    wait_for(lambda: backups(env)["db"]["runs"] == 1, 30, what="the first backup")
    assert backups(env)["db"]["last_drill_s"] is None
    r = env.vigilctl("backup", "drill", "db")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: backups(env)["db"]["last_drill_s"] is not None, 30, what="the drill")
    db = backups(env)["db"]
    assert db["last_drill_s"] > 0.001 and "restored 1 files" in db["drill_result"], db
    assert db["rto_exceeded"] is True and db["rto_s"] == 0
    ev = env.hook.wait_event("backup_rto_exceeded", timeout=10,
                             pred=lambda e: e.get("cluster") == "backup:db")
    assert "over rto" in ev["reason"]


def test_retention_runs_after_each_good_backup(make_env):
    env = make_env(start_vigil=False)
    src, repo = env.path("src"), env.path("repo")
    os.makedirs(src)
    with open(os.path.join(src, "f.txt"), "w") as f:
        f.write("v1\n")
    p = subprocess.run([binary("vigil"), "init", "-r", repo], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    env.top = (f'backups = ( {{ name = "keep"; source = "{src}"; repository = "{repo}";'
               f' interval = "1h"; jitter = "0ms"; keep_last = 1; }} );')
    with open(env.conf, "w") as f:
        f.write(env.config_text())
    env.start_daemon()
    idle = lambda n: backups(env)["keep"]["runs"] == n and backups(env)["keep"]["state"] == "idle"  # noqa: E731
    wait_for(lambda: idle(1), 30, what="the first backup and its retention run")
    for n in (2, 3):
        with open(os.path.join(src, "f.txt"), "w") as f:
            f.write(f"v{n}\n")
        assert env.vigilctl("backup", "now", "keep").returncode == 0
        wait_for(lambda: idle(n), 30, what=f"backup {n} and its retention run")
    p = subprocess.run([binary("vigil"), "snapshots", "-r", repo, "--json"],
                       capture_output=True, text=True)
    snaps = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(snaps) == 1, snaps  # keep_last = 1: the older ones were forgotten and pruned
    out = env.path("out")
    assert subprocess.run([binary("vigil"), "restore", "-r", repo, out]).returncode == 0
    with open(os.path.join(out, "f.txt")) as f:
        assert f.read() == "v3\n"


S3RVER = "/var/cache/vigil/npm/node_modules/.bin/s3rver"


def test_job_into_an_s3_repository(make_env, tmp_path):
    """The daemon's job writes to s3rver (installed by scripts/test) like to a local path,
    and another job mirrors its local repository there (offsite)."""
    if not os.access(S3RVER, os.X_OK):
        pytest.skip(f"s3rver not installed at {S3RVER} (scripts/test installs it)")
    port = free_port()
    data = tmp_path / "s3data"
    data.mkdir()
    srv = Proc([S3RVER, "-d", str(data), "-a", "127.0.0.1", "-p", str(port), "-s",
                "--configure-bucket", "vigil-bk"], str(tmp_path / "s3rver.log"),
               env=dict(os.environ, NODE_OPTIONS="--openssl-legacy-provider"))
    try:
        wait_for(lambda: port_open(port), 20, what="s3rver")
        creds = tmp_path / "creds"
        creds.write_text("AWS_ACCESS_KEY_ID=S3RVER\nAWS_SECRET_ACCESS_KEY=S3RVER\n")
        creds.chmod(0o600)
        repo = (f"s3://vigil-bk/vigil?endpoint=http://127.0.0.1:{port}&region=us-east-1"
                f"&path_style=1&credentials={creds}")
        env = make_env(start_vigil=False)
        src = env.path("src")
        os.makedirs(src)
        with open(os.path.join(src, "f.txt"), "w") as f:
            f.write("offsite\n" * 100)
        # Offsite means encrypted: without a key, init refuses.
        p = subprocess.run([binary("vigil"), "init", "-r", repo], capture_output=True, text=True)
        assert p.returncode == 1 and "must be encrypted" in p.stderr, p.stderr
        key = env.path("key")
        assert subprocess.run([binary("vigil"), "keygen", key]).returncode == 0
        p = subprocess.run([binary("vigil"), "init", "-r", repo, "--key", key],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        # A second job keeps its repository here and mirrors it to s3rver.
        local = env.path("local")
        mirror = repo.replace("s3://vigil-bk/vigil?", "s3://vigil-bk/mirror?")
        p = subprocess.run([binary("vigil"), "init", "-r", local, "--key", key],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        env.top = (f'backups = ( {{ name = "off"; source = "{src}"; repository = "{repo}";'
                   f' key_file = "{key}"; interval = "1h"; jitter = "0ms"; }},\n'
                   f'  {{ name = "here"; source = "{src}"; repository = "{local}";'
                   f' offsite = "{mirror}"; key_file = "{key}"; interval = "1h"; jitter = "0ms"; }} );')
        with open(env.conf, "w") as f:
            f.write(env.config_text())
        env.start_daemon()
        wait_for(lambda: backups(env)["off"]["runs"] == 1, 30, what="the backup into s3rver")
        wait_for(lambda: backups(env)["here"]["offsite"]["last_ok_age_s"] is not None, 30,
                 what="the offsite sync to s3rver")
        off = backups(env)["here"]["offsite"]
        assert off["snapshots_pending"] == 0 and off["backups_behind"] == 0, off
        p = subprocess.run([binary("vigil"), "restore", "-r", mirror, "--key", key,
                            env.path("from-mirror")], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        with open(env.path("from-mirror", "f.txt")) as f:
            assert f.read() == "offsite\n" * 100
        out = env.path("out")
        p = subprocess.run([binary("vigil"), "restore", "-r", repo, "--key", key, out],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        with open(os.path.join(out, "f.txt")) as f:
            assert f.read() == "offsite\n" * 100
        assert "S3RVER" not in env.log()
    finally:
        srv.stop()


def test_cron_schedules_catch_up_once_then_wait_for_their_time(make_env):
    """A schedule (cron) instead of an interval: at start-up a job runs at once
    when a scheduled time passed since its last good run (or it never ran),
    and otherwise waits for the schedule's next time."""
    import datetime
    import time

    env = make_env(start_vigil=False)
    src, repo = env.path("src"), env.path("repo")
    os.makedirs(src)
    with open(os.path.join(src, "f.txt"), "w") as f:
        f.write("cron\n")
    p = subprocess.run([binary("vigil"), "init", "-r", repo], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    now_ms = int(time.time() * 1000)
    os.makedirs(env.path("state"), exist_ok=True)
    state = {"missed": now_ms - 3 * 86400 * 1000,  # three days: @daily passed since
             "waiting": now_ms - 60 * 1000}        # a minute ago: Jan 1 is not due yet
    for name, last_ok in state.items():
        with open(env.path("state", f"backup-{name}.json"), "w") as f:
            json.dump({"last_ok_ms": last_ok, "runs": 5}, f)
    jobs = [("missed", "@daily"), ("waiting", "0 0 1 1 *"), ("fresh", "0 0 1 1 *")]
    env.top = "backups = ( " + ",\n".join(
        f'{{ name = "{n}"; source = "{src}"; repository = "{repo}"; schedule = "{s}"; }}'
        for n, s in jobs) + " );"
    with open(env.conf, "w") as f:
        f.write(env.config_text())
    env.start_daemon()
    wait_for(lambda: backups(env)["missed"]["runs"] == 6, 20, what="the missed daily run")
    wait_for(lambda: backups(env)["fresh"]["runs"] == 1, 20, what="the never-run job")
    time.sleep(1)
    waiting = backups(env)["waiting"]
    assert waiting["runs"] == 5 and waiting["schedule"] == "0 0 1 1 *", waiting
    nxt = datetime.datetime(datetime.datetime.now().year + 1, 1, 1)
    expect = (nxt - datetime.datetime.now()).total_seconds()
    assert abs(waiting["next_in_s"] - expect) < 120, (waiting["next_in_s"], expect)
    # The daily one waits for tomorrow's midnight, not an interval.
    missed = backups(env)["missed"]
    tomorrow = datetime.datetime.combine(datetime.date.today() + datetime.timedelta(days=1),
                                         datetime.time())
    expect = (tomorrow - datetime.datetime.now()).total_seconds()
    assert abs(missed["next_in_s"] - expect) < 120, (missed["next_in_s"], expect)


def test_offsite_mirror_after_each_run_and_what_has_not_reached_it(make_env):
    """A job with offsite: `vigil sync` after each good backup; status says what is
    pending and how many backups the mirror is behind; a failed sync is alerted
    and a later good one clears it; the mirror restores on its own."""
    import shutil

    env = make_env(start_vigil=False)
    src, repo, key = env.path("src"), env.path("repo"), env.path("bk.key")
    mirror, foreign = env.path("mirror"), env.path("foreign")
    os.makedirs(src)
    with open(os.path.join(src, "data.txt"), "w") as f:
        f.write("far away\n" * 2000)
    for args in (["keygen", key], ["init", "-r", repo, "--key", key],
                 ["init", "-r", mirror, "--key", key]):  # another repository: refused
        p = subprocess.run([binary("vigil"), *args], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
    env.top = (f'backups = ( {{ name = "www"; source = "{src}"; repository = "{repo}";'
               f' key_file = "{key}"; offsite = "{mirror}"; interval = "1h"; jitter = "0ms";'
               f' alerts = ( {{ type = "webhook"; url = "{env.hook.url}"; }} ); }} );')
    with open(env.conf, "w") as f:
        f.write(env.config_text())
    env.start_daemon()
    ev = env.hook.wait_event("backup_offsite_failed", timeout=30)
    assert "another repository" in ev["reason"] or "holds" in ev["reason"], ev
    www = backups(env)["www"]
    assert www["runs"] == 1 and www["offsite"]["failed"] is True, www
    assert www["offsite"]["backups_behind"] == 1, www

    shutil.move(mirror, foreign)  # the operator points it at an empty place
    r = env.vigilctl("backup", "now", "www")
    assert r.returncode == 0, r.stderr
    env.hook.wait_event("backup_offsite_ok", timeout=30)
    www = backups(env)["www"]
    assert www["runs"] == 2 and www["offsite"]["failed"] is False, www
    off = www["offsite"]
    assert off["snapshots_pending"] == 0 and off["bytes_pending"] == 0, off
    assert off["backups_behind"] == 0 and off["last_ok_age_s"] is not None, off
    # The mirror is a repository of its own: both snapshots restore from it.
    out = env.path("out")
    p = subprocess.run([binary("vigil"), "restore", "-r", mirror, "--key", key, out],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    with open(os.path.join(out, "data.txt")) as f:
        assert f.read() == "far away\n" * 2000
    assert len(snapshots(mirror, key)) == 2
    r = env.vigilctl("backups")
    assert r.returncode == 0, r.stderr
    assert "offsite: 0 snapshots, 0 bytes pending, 0 backups behind, last complete sync" \
        in r.stdout, r.stdout
