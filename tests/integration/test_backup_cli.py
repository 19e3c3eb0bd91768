"""tests/integration/test_backup_cli.py — `vigil keygen|init|backup|snapshots|restore|verify`.

The backup library on the command line, against a generated tree: a round
trip, an incremental that reads only what changed, a tampered pack that
verify and restore both name, and keys that do not fit.
"""

import filecmp
import json
import os
import random
import subprocess

import pytest

from conftest import binary


def vigil(*args):
    return subprocess.run([binary("vigil"), *args], capture_output=True, text=True, timeout=120)


def make_tree(root):
    rnd = random.Random(7)
    os.makedirs(os.path.join(root, "dir", "sub"))
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(rnd.randbytes(3 << 20))
    with open(os.path.join(root, "dir", "text.txt"), "w") as f:
        f.write("hello vigil\n" * 1000)
    open(os.path.join(root, "dir", "sub", "empty"), "w").close()
    with open(os.path.join(root, "sparse"), "wb") as f:
        f.truncate(8 << 20)
        f.seek(4 << 20)
        f.write(b"middle")
    os.symlink("dir/text.txt", os.path.join(root, "link"))
    os.chmod(os.path.join(root, "dir", "text.txt"), 0o640)


def same_tree(a, b):
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.diff_files or cmp.funny_files:
        return False
    for name in cmp.common:
        pa, pb = os.path.join(a, name), os.path.join(b, name)
        sa, sb = os.lstat(pa), os.lstat(pb)
        if (sa.st_mode, int(sa.st_mtime)) != (sb.st_mode, int(sb.st_mtime)):
            return False
        if os.path.islink(pa) and os.readlink(pa) != os.readlink(pb):
            return False
        if os.path.isfile(pa) and not os.path.islink(pa) and \
                not filecmp.cmp(pa, pb, shallow=False):  # dircmp alone trusts size+mtime
            return False
    return all(same_tree(os.path.join(a, d), os.path.join(b, d)) for d in cmp.common_dirs)


@pytest.fixture
def repo(tmp_path):
    key, r, src = str(tmp_path / "key"), str(tmp_path / "repo"), str(tmp_path / "src")
    make_tree(src)
    assert vigil("keygen", key).returncode == 0
    p = vigil("init", "-r", r, "--key", key)
    assert p.returncode == 0, p.stderr
    return tmp_path, key, r, src


def test_round_trip_and_incremental(repo):
    tmp, key, r, src = repo
    p = vigil("backup", "-r", r, "--key", key, "--job", "web", src)
    assert p.returncode == 0, p.stderr
    with open(os.path.join(src, "dir", "text.txt"), "a") as f:
        f.write("one more line\n")
    p = vigil("backup", "-r", r, "--key", key, "--job", "web", src)
    assert p.returncode == 0, p.stderr
    # Only the changed file was read again.
    assert "(1 read, 3 unchanged)" in p.stdout, p.stdout
    p = vigil("snapshots", "-r", r, "--key", key, "--json")
    snaps = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(snaps) == 2 and snaps[1]["parent"] == snaps[0]["id"], snaps
    out = str(tmp / "out")
    p = vigil("restore", "-r", r, "--key", key, "--snapshot", "latest", out)
    assert p.returncode == 0, p.stderr
    assert same_tree(src, out)
    # The first snapshot restores on its own too, without the appended line.
    first = str(tmp / "first")
    assert vigil("restore", "-r", r, "--key", key, "--snapshot", snaps[0]["id"][:12],
                 first).returncode == 0
    with open(os.path.join(first, "dir", "text.txt")) as f:
        assert "one more line" not in f.read()
    assert vigil("verify", "-r", r, "--key", key, "--read-data").returncode == 0


def test_tampered_pack_is_named_and_keys_must_fit(repo):
    tmp, key, r, src = repo
    assert vigil("backup", "-r", r, "--key", key, src).returncode == 0
    packs = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(r, "data")) for f in fs]
    big = max(packs, key=os.path.getsize)
    with open(big, "r+b") as f:
        f.seek(os.path.getsize(big) // 3)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0xFF]))
    p = vigil("verify", "-r", r, "--key", key, "--read-data")
    assert p.returncode == 1 and "damaged" in p.stderr.lower() and "file " in p.stderr, p.stderr
    p = vigil("restore", "-r", r, "--key", key, str(tmp / "out"))
    assert p.returncode == 1 and "big.bin" in p.stderr, p.stderr
    assert not os.path.exists(str(tmp / "out" / "big.bin"))

    other = str(tmp / "other-key")
    assert vigil("keygen", other).returncode == 0
    p = vigil("snapshots", "-r", r, "--key", other)
    assert p.returncode == 1 and "wrong key" in p.stderr, p.stderr
    p = vigil("snapshots", "-r", r)
    assert p.returncode == 1 and "key" in p.stderr, p.stderr
    assert vigil("backup", "-r", r).returncode == 2  # usage: no SOURCE


def test_init_segment_size(tmp_path):
    """--segment-size lands in the config; out of range is a usage error that creates nothing."""
    r, src, out = str(tmp_path / "repo"), str(tmp_path / "src"), str(tmp_path / "out")
    make_tree(src)
    p = vigil("init", "-r", r, "--segment-size", "65536")
    assert p.returncode == 0, p.stderr
    with open(os.path.join(r, "config")) as f:
        cfg = json.load(f)
    assert cfg["vigil_repository"] == 2 and cfg["segment_size"] == 65536, cfg
    p = vigil("backup", "-r", r, src)
    assert p.returncode == 0, p.stderr
    p = vigil("restore", "-r", r, out)
    assert p.returncode == 0, p.stderr
    assert same_tree(src, out)
    bad = str(tmp_path / "bad")
    p = vigil("init", "-r", bad, "--segment-size", "1000")
    assert p.returncode != 0
    assert "segment size 1000: must be 16 KiB to 16 MiB" in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(bad, "config"))


def test_restore_delete(repo):
    """--delete leaves the target holding the snapshot and nothing else; it needs a directory."""
    tmp, key, r, src = repo
    assert vigil("backup", "-r", r, "--key", key, src).returncode == 0
    out = str(tmp / "out")
    os.makedirs(os.path.join(out, "dir", "stale-dir"))
    for stale in ("stale.pid", os.path.join("dir", "stale-dir", "old.wal")):
        with open(os.path.join(out, stale), "w") as f:
            f.write("from before\n")
    p = vigil("restore", "-r", r, "--key", key, out)
    assert p.returncode == 0, p.stderr
    assert os.path.exists(os.path.join(out, "stale.pid"))  # not without --delete
    p = vigil("restore", "-r", r, "--key", key, "--delete", out)
    assert p.returncode == 0, p.stderr
    assert "removed 3 entries the snapshot does not hold" in p.stdout, p.stdout
    assert same_tree(src, out)
    p = vigil("restore", "-r", r, "--key", key, "--delete", "--stdout")
    assert p.returncode == 2 and "usage" in p.stderr.lower(), (p.returncode, p.stderr)
