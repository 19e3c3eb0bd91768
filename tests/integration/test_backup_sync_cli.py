"""tests/integration/test_backup_sync_cli.py — `vigil sync` on the command line.

The library's rules are tested in tests/unit/test_backup_sync.c; this checks
what the daemon will read: one JSON line with the pending counts, on success
and on failure (exit 1, the error on stderr too), a dry run that writes
nothing, and the usage exit status.
"""

import json
import os
import subprocess

from conftest import binary


def vigil(*args):
    return subprocess.run([binary("vigil"), *args], capture_output=True, text=True, timeout=120)


def one_json_line(p):
    lines = p.stdout.splitlines()
    assert len(lines) == 1, p.stdout
    return json.loads(lines[0])


def test_sync_json_dry_run_and_failures(tmp_path):
    key, repo, src = str(tmp_path / "key"), str(tmp_path / "repo"), str(tmp_path / "src")
    mirror = str(tmp_path / "mirror")
    os.makedirs(src)
    with open(os.path.join(src, "f"), "wb") as f:
        f.write(os.urandom(200000))
    assert vigil("keygen", key).returncode == 0
    assert vigil("init", "-r", repo, "--key", key).returncode == 0
    assert vigil("backup", "-r", repo, "--key", key, src).returncode == 0

    p = vigil("sync", "-r", repo, "--key", key, "--to", mirror, "--dry-run", "--json")
    assert p.returncode == 0, p.stderr
    j = one_json_line(p)
    assert j["ok"] and j["dry_run"] and j["snapshots_pending"] == 1 and j["bytes_pending"] > 200000
    assert not os.path.exists(mirror)

    p = vigil("sync", "-r", repo, "--key", key, "--to", mirror, "--json")
    assert p.returncode == 0, p.stderr
    j = one_json_line(p)
    assert j["snapshots_uploaded"] == 1 and j["packs_uploaded"] >= 1, j
    assert j["snapshots_pending"] == 0 and j["bytes_pending"] == 0, j
    p = vigil("restore", "-r", mirror, "--key", key, str(tmp_path / "out"))
    assert p.returncode == 0, p.stderr
    with open(os.path.join(src, "f"), "rb") as a, open(str(tmp_path / "out" / "f"), "rb") as b:
        assert a.read() == b.read()

    # A failure still prints the JSON line, with the error, and exits 1.
    other = str(tmp_path / "other")
    assert vigil("init", "-r", other, "--key", key).returncode == 0
    p = vigil("sync", "-r", repo, "--key", key, "--to", other, "--json")
    assert p.returncode == 1
    j = one_json_line(p)
    assert not j["ok"] and j["snapshots_pending"] is None and "another repository" in j["error"]
    assert "another repository" in p.stderr

    plain = str(tmp_path / "plain")
    assert vigil("init", "-r", plain).returncode == 0
    p = vigil("sync", "-r", plain, "--to", "s3://bucket/p?endpoint=http://127.0.0.1:9")
    assert p.returncode == 1 and "must be encrypted" in p.stderr, p.stderr

    assert vigil("sync", "-r", repo, "--key", key).returncode == 2  # no --to
    assert vigil("sync", "-r", repo, "--to", mirror, "extra").returncode == 2
