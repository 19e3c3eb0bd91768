"""tests/integration/test_backup_format_v1.py — a repository an older vigil wrote.

fixtures/backup-format-v1.tar.gz holds a repository of format version 1
and its key, written by vigil at commit ae76fda (before format version 2)
with `vigil init -r repo --key key` and `vigil backup -r repo --key key
--job v1 src`, src being the tree make_source builds.  Today's vigil must
restore it byte for byte, verify it, back up into it (keeping it version 1,
so the older vigil still reads it), and forget and prune in it.
"""

import json
import os
import random
import subprocess
import tarfile

from conftest import binary

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "backup-format-v1.tar.gz")


def vigil(*args):
    return subprocess.run([binary("vigil"), *args], capture_output=True, text=True, timeout=120)


def make_source(root):
    rnd = random.Random(20261205)
    os.makedirs(os.path.join(root, "data"))
    with open(os.path.join(root, "hello.txt"), "w") as f:
        f.write("hello from format version 1\n" * 100)
    with open(os.path.join(root, "data", "random.bin"), "wb") as f:
        f.write(rnd.randbytes(40000))
    os.symlink("hello.txt", os.path.join(root, "link"))


def contents(root):
    """Every entry under root: relative path -> bytes, or ("link", target)."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p))
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    out[rel] = f.read()
            else:
                out[rel] = "dir"
    return out


def restore_matches(repo, key, src, out):
    p = vigil("restore", "-r", repo, "--key", key, "--no-progress", out)
    assert p.returncode == 0, p.stderr
    assert contents(out) == contents(src)


def verify_clean(repo, key, version):
    p = vigil("verify", "-r", repo, "--key", key, "--read-data", "--no-progress")
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"ok: format version {version}," in p.stdout and "0 problems" in p.stdout, p.stdout


def config(repo):
    with open(os.path.join(repo, "config")) as f:
        return json.load(f)


def unpack(tmp_path):
    """The fixture's repository and key under tmp_path, and the source it was made from."""
    with tarfile.open(FIXTURE) as t:
        t.extractall(tmp_path)
    repo, key, src = str(tmp_path / "repo"), str(tmp_path / "key"), str(tmp_path / "src")
    os.chmod(key, 0o600)
    make_source(src)
    return repo, key, src


def first_snapshot_matches(repo, key, tmp_path, out):
    """The older vigil's own snapshot still restores to the tree it was made from."""
    first = str(tmp_path / "first")
    make_source(first)
    p = vigil("restore", "-r", repo, "--key", key, "--snapshot", "29ccd43f", "--no-progress",
              str(tmp_path / out))
    assert p.returncode == 0, p.stderr
    assert contents(str(tmp_path / out)) == contents(first)


def test_version_1_repository_from_an_older_vigil(tmp_path):
    repo, key, src = unpack(tmp_path)
    assert config(repo)["vigil_repository"] == 1

    restore_matches(repo, key, src, str(tmp_path / "out1"))
    verify_clean(repo, key, 1)

    # A new backup into it: new chunks stored, and the repository stays version 1.
    with open(os.path.join(src, "data", "new.txt"), "w") as f:
        f.write("written by a newer vigil\n" * 2000)
    p = vigil("backup", "-r", repo, "--key", key, "--job", "v1", "--no-progress", src)
    assert p.returncode == 0, p.stderr
    assert config(repo)["vigil_repository"] == 1 and "segment_size" not in config(repo)
    restore_matches(repo, key, src, str(tmp_path / "out2"))
    verify_clean(repo, key, 1)

    # Retention and prune rewrite its index: still version 1, still sound.
    # (Retention goes by job and source path; this source's path is new, so
    # the older vigil's snapshot is a group of its own and stays.)
    with open(os.path.join(src, "hello.txt"), "a") as f:
        f.write("and one more line\n")
    p = vigil("backup", "-r", repo, "--key", key, "--job", "v1", "--no-progress", src)
    assert p.returncode == 0, p.stderr
    p = vigil("forget", "-r", repo, "--key", key, "--keep-last", "1", "--prune")
    assert p.returncode == 0, p.stdout + p.stderr
    p = vigil("snapshots", "-r", repo, "--key", key, "--json")
    snaps = [json.loads(line) for line in p.stdout.splitlines()]
    assert p.returncode == 0 and len(snaps) == 2, p.stdout + p.stderr
    assert config(repo)["vigil_repository"] == 1
    verify_clean(repo, key, 1)
    restore_matches(repo, key, src, str(tmp_path / "out3"))
    first_snapshot_matches(repo, key, tmp_path, "out4")


def test_upgrade_to_version_2_and_the_mirror_follows(tmp_path):
    """`vigil upgrade` rewrites the config; old snapshots stay readable, new chunks go into
    segments, and `vigil sync` replaces the mirror's config before anything new reaches it."""
    repo, key, src = unpack(tmp_path)
    mirror = str(tmp_path / "mirror")
    p = vigil("sync", "-r", repo, "--key", key, "--to", mirror)
    assert p.returncode == 0, p.stdout + p.stderr
    assert config(mirror)["vigil_repository"] == 1

    p = vigil("upgrade", "-r", repo, "--key", key)
    assert p.returncode == 0 and "upgraded" in p.stdout, p.stdout + p.stderr
    cfg = config(repo)
    assert cfg["vigil_repository"] == 2 and cfg["segment_size"] == 524288, cfg
    p = vigil("upgrade", "-r", repo, "--key", key)
    assert p.returncode == 0 and "already format version 2" in p.stdout, p.stdout + p.stderr

    with open(os.path.join(src, "data", "new.txt"), "w") as f:
        f.write("".join(f"line {i} of text written after the upgrade\n" for i in range(20000)))
    p = vigil("backup", "-r", repo, "--key", key, "--job", "v1", "--no-progress", src)
    assert p.returncode == 0, p.stderr
    verify_clean(repo, key, 2)
    restore_matches(repo, key, src, str(tmp_path / "out1"))
    first_snapshot_matches(repo, key, tmp_path, "out2")

    p = vigil("sync", "-r", repo, "--key", key, "--to", mirror)
    assert p.returncode == 0, p.stdout + p.stderr
    with open(os.path.join(repo, "config"), "rb") as a, \
            open(os.path.join(mirror, "config"), "rb") as b:
        assert a.read() == b.read()
    verify_clean(mirror, key, 2)
    restore_matches(mirror, key, src, str(tmp_path / "out3"))
