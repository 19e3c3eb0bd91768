"""tests/integration/test_backup_prune.py — `vigil forget` and `vigil prune`.

Retention on the command line against generated versions of a tree: a dry
run that changes nothing, forget --prune that shrinks the repository while
every kept snapshot restores byte for byte and a forgotten one is gone, and
`vigil prune` SIGKILLed at random moments: after each kill the repository
verifies with every chunk read, the kept snapshots restore, and the next
backup and prune succeed.
"""

import filecmp
import json
import os
import random
import shutil
import signal
import subprocess
import time

import pytest

from conftest import binary


def vigil(*args):
    return subprocess.run([binary("vigil"), *args], capture_output=True, text=True, timeout=120)


def same_tree(a, b):
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    for name in cmp.common_files:
        if not filecmp.cmp(os.path.join(a, name), os.path.join(b, name), shallow=False):
            return False
    return all(same_tree(os.path.join(a, d), os.path.join(b, d)) for d in cmp.common_dirs)


def data_bytes(repo):
    return sum(os.path.getsize(os.path.join(d, f))
               for d, _, fs in os.walk(os.path.join(repo, "data")) for f in fs)


def snapshots(repo, key):
    p = vigil("snapshots", "-r", repo, "--key", key, "--json")
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()]


class Repo:
    """An encrypted repository and the versions of one source backed up into it."""

    def __init__(self, tmp, versions, big):
        self.tmp, self.key, self.path = str(tmp), str(tmp / "key"), str(tmp / "repo")
        self.src = str(tmp / "src")
        self.copies = []  # the source as it was at each snapshot, oldest first
        assert vigil("keygen", self.key).returncode == 0
        p = vigil("init", "-r", self.path, "--key", self.key, "--pack-size", "65536")
        assert p.returncode == 0, p.stderr
        os.makedirs(os.path.join(self.src, "etc"))
        with open(os.path.join(self.src, "etc", "stays.txt"), "w") as f:
            f.write("the same in every version\n" * 2000)
        rnd = random.Random(11)
        for v in range(versions):
            with open(os.path.join(self.src, "data.bin"), "wb") as f:
                f.write(rnd.randbytes(big))
            with open(os.path.join(self.src, f"own{v}"), "wb") as f:
                f.write(rnd.randbytes(40000))
            if v:
                os.unlink(os.path.join(self.src, f"own{v - 1}"))
            self.backup()

    def backup(self):
        p = vigil("backup", "-r", self.path, "--key", self.key, "--job", "db", self.src)
        assert p.returncode == 0, p.stderr
        copy = os.path.join(self.tmp, f"v{len(self.copies)}")
        shutil.copytree(self.src, copy, symlinks=True)
        self.copies.append((snapshots(self.path, self.key)[-1]["id"], copy))

    def run(self, *args):
        return vigil(*args[:1], "-r", self.path, "--key", self.key, *args[1:])

    def assert_restores(self, snap_id, copy):
        out = os.path.join(self.tmp, "out")
        shutil.rmtree(out, ignore_errors=True)
        p = self.run("restore", "--snapshot", snap_id, out)
        assert p.returncode == 0, p.stderr
        assert same_tree(copy, out), f"snapshot {snap_id[:16]} does not restore {copy}"

    def assert_verifies(self):
        p = self.run("verify", "--read-data")
        assert p.returncode == 0, p.stdout + p.stderr
        assert "0 problems" in p.stdout, p.stdout


def test_forget_dry_run_then_forget_and_prune(tmp_path):
    r = Repo(tmp_path, versions=5, big=600000)
    before = data_bytes(r.path)

    p = r.run("forget", "--keep-last", "2", "--dry-run")
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("  forget ") == 3 and p.stdout.count("  keep ") == 2, p.stdout
    assert "would be forgotten (dry run)" in p.stdout
    assert len(snapshots(r.path, r.key)) == 5

    p = r.run("prune", "--dry-run")
    assert p.returncode == 0, p.stderr
    assert "nothing to delete" in p.stdout, p.stdout  # every snapshot is still there
    assert data_bytes(r.path) == before

    p = r.run("forget", "--keep-last", "2", "--prune")
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("  forgot ") == 3, p.stdout
    assert "prune: 2 snapshots use" in p.stdout, p.stdout
    after = data_bytes(r.path)
    print(p.stdout, f"data: {before} -> {after} bytes")
    # Three of the five versions' data.bin and own files are gone.
    assert after < before - 3 * 600000

    left = [s["id"] for s in snapshots(r.path, r.key)]
    assert left == [r.copies[3][0], r.copies[4][0]]
    r.assert_verifies()
    for snap_id, copy in r.copies[3:]:
        r.assert_restores(snap_id, copy)
    p = r.run("restore", "--snapshot", r.copies[0][0], os.path.join(r.tmp, "gone"))
    assert p.returncode == 1 and "no snapshot" in p.stderr, p.stderr

    p = r.run("prune")
    assert p.returncode == 0 and "nothing to delete" in p.stdout, p.stdout + p.stderr


def test_usage_errors(tmp_path):
    r = Repo(tmp_path, versions=1, big=1000)
    p = r.run("forget")
    assert p.returncode == 2 and "--keep-" in p.stderr, p.stderr
    p = r.run("forget", "--keep-last", "-1")
    assert p.returncode == 2, p.stderr
    p = r.run("prune", "--keep-last", "1")  # a forget option
    assert p.returncode == 2, p.stderr
    p = r.run("prune", "--repack-threshold", "101")
    assert p.returncode == 2, p.stderr
    assert len(snapshots(r.path, r.key)) == 1


def test_prune_killed_at_random_moments(tmp_path):
    r = Repo(tmp_path, versions=6, big=1 << 20)
    p = r.run("forget", "--keep-last", "2")
    assert p.returncode == 0, p.stderr
    template = os.path.join(r.tmp, "template")
    shutil.copytree(r.path, template)

    took = None
    for _ in range(2):  # the second run is the one with warm caches, like the tries below
        shutil.rmtree(r.path)
        shutil.copytree(template, r.path)
        start = time.monotonic()
        p = r.run("prune")
        took = min(took or 1e9, time.monotonic() - start)
        assert p.returncode == 0, p.stderr
    print(f"an uninterrupted vigil prune takes {took * 1000:.0f} ms: {p.stdout}")

    rnd, killed = random.Random(5), 0
    kept = r.copies[4:]
    for i in range(10):
        shutil.rmtree(r.path)
        shutil.copytree(template, r.path)
        proc = subprocess.Popen([binary("vigil"), "prune", "-r", r.path, "--key", r.key],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0, 0.9 * took))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        rc = proc.wait(timeout=60)
        assert rc in (0, -signal.SIGKILL), rc
        killed += rc == -signal.SIGKILL

        r.assert_verifies()
        for snap_id, copy in kept:
            r.assert_restores(snap_id, copy)
        with open(os.path.join(r.src, "etc", f"after-kill-{i}"), "wb") as f:
            f.write(rnd.randbytes(70000))
        p = r.run("backup", "--job", "db", r.src)
        assert p.returncode == 0, p.stderr
        p = r.run("prune")
        assert p.returncode == 0, p.stderr
        r.assert_verifies()
        for snap_id, copy in kept:
            r.assert_restores(snap_id, copy)
        p = r.run("restore", "--snapshot", "latest", os.path.join(r.tmp, "latest"))
        assert p.returncode == 0, p.stderr
        assert same_tree(r.src, os.path.join(r.tmp, "latest"))
        shutil.rmtree(os.path.join(r.tmp, "latest"))
        p = r.run("prune")
        assert p.returncode == 0 and "nothing to delete" in p.stdout, p.stdout + p.stderr
    print(f"killed {killed} of 10 prunes midway")
    assert killed >= 5
