"""tests/integration/test_backup_stream.py — streams: a command's output as a snapshot.

`vigil backup --command -- ARGV` stores what a command writes (a pg_dump,
say) and `vigil restore --command -- ARGV` feeds it back into one (a
pg_restore): round trips through commands, stdin and stdout; a command
that fails leaves no snapshot; a dump that changed a little stores a
little; a damaged chunk kills the consumer before it sees the end of its
input; the progress bar on a terminal and its absence elsewhere.
"""

import json
import os
import pty
import random
import select
import subprocess
import sys

import pytest

from conftest import binary


def vigil(*args, **kw):
    return subprocess.run([binary("vigil"), *args], capture_output=True, timeout=120, **kw)


def snapshots(r, key):
    p = vigil("snapshots", "-r", r, "--key", key, "--json")
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.decode().splitlines()]


def repo_bytes(r):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(r) for f in fs)


@pytest.fixture
def repo(tmp_path):
    key, r = str(tmp_path / "key"), str(tmp_path / "repo")
    assert vigil("keygen", key).returncode == 0
    p = vigil("init", "-r", r, "--key", key)
    assert p.returncode == 0, p.stderr
    dump = tmp_path / "dump.bin"
    dump.write_bytes(random.Random(3).randbytes(6 << 20))
    return tmp_path, key, r, dump


# A "dump" command and a "restore" command, run without a shell.
CAT = [sys.executable, "-c", "import sys,shutil; shutil.copyfileobj(open(sys.argv[1],'rb'), "
       "sys.stdout.buffer)"]
SINK = [sys.executable, "-c", "import sys; d = sys.stdin.buffer.read(); "
        "open(sys.argv[1], 'wb').write(d)"]


def test_command_round_trip_and_a_failing_producer(repo):
    tmp, key, r, dump = repo
    p = vigil("backup", "-r", r, "--key", key, "--job", "db", "--stdin-name", "app.dump",
              "--command", "--", *CAT, str(dump))
    assert p.returncode == 0, p.stderr
    snaps = snapshots(r, key)
    assert len(snaps) == 1 and snaps[0]["job"] == "db" and snaps[0]["bytes"] == 6 << 20, snaps

    out = tmp / "restored.bin"
    p = vigil("restore", "-r", r, "--key", key, "--job", "db", "--command", "--", *SINK, str(out))
    assert p.returncode == 0, p.stderr
    assert out.read_bytes() == dump.read_bytes()
    p = vigil("restore", "-r", r, "--key", key, "--stdout")
    assert p.returncode == 0 and p.stdout == dump.read_bytes(), p.stderr
    # Into a directory: the stream is one file, under the name it was given.
    p = vigil("restore", "-r", r, "--key", key, str(tmp / "dir"))
    assert p.returncode == 0, p.stderr
    assert (tmp / "dir" / "app.dump").read_bytes() == dump.read_bytes()

    # A producer that fails after writing: its output may be cut short, so no snapshot.
    failing = [sys.executable, "-c", "import sys; sys.stdout.buffer.write(b'x' * 100000); "
               "sys.exit(3)"]
    p = vigil("backup", "-r", r, "--key", key, "--job", "db", "--command", "--", *failing)
    assert p.returncode == 1 and b"exited with status 3" in p.stderr, p.stderr
    assert len(snapshots(r, key)) == 1
    p = vigil("backup", "-r", r, "--key", key, "--command", "--", str(tmp / "no-such-command"))
    assert p.returncode == 1 and b"no-such-command" in p.stderr, p.stderr
    assert len(snapshots(r, key)) == 1
    assert vigil("verify", "-r", r, "--key", key, "--read-data").returncode == 0


def test_stdin_and_a_dump_that_changed_a_little(repo):
    tmp, key, r, dump = repo
    # An empty stream is a snapshot of an empty file.
    p = vigil("backup", "-r", r, "--key", key, "--job", "empty", "--stdin", input=b"")
    assert p.returncode == 0, p.stderr
    p = vigil("restore", "-r", r, "--key", key, "--job", "empty", "--stdout")
    assert p.returncode == 0 and p.stdout == b"", p.stderr
    with open(dump, "rb") as f:
        p = vigil("backup", "-r", r, "--key", key, "--job", "db", "--stdin", stdin=f)
    assert p.returncode == 0, p.stderr
    before = repo_bytes(r)
    data = bytearray(dump.read_bytes())
    rnd = random.Random(5)
    for _ in range(20):  # 20 scattered 8 KiB pages rewritten: 160 KiB of 6 MiB
        at = rnd.randrange(0, len(data) // 8192) * 8192
        data[at:at + 8192] = rnd.randbytes(8192)
    dump.write_bytes(bytes(data))
    with open(dump, "rb") as f:
        p = vigil("backup", "-r", r, "--key", key, "--job", "db", "--stdin", stdin=f)
    assert p.returncode == 0, p.stderr
    grown = repo_bytes(r) - before
    # Only the chunks around the changed pages (16 KiB average) are new, not the 6 MiB.
    assert 160 << 10 < grown < 2 << 20, grown
    p = vigil("restore", "-r", r, "--key", key, "--job", "db", "--stdout")
    assert p.returncode == 0 and p.stdout == bytes(data)
    first = [x for x in snapshots(r, key) if x["job"] == "db"][0]["id"]
    p = vigil("restore", "-r", r, "--key", key, "--snapshot", first, "--stdout")
    assert p.returncode == 0 and p.stdout != bytes(data) and len(p.stdout) == len(data)


def test_a_damaged_chunk_kills_the_consumer(repo):
    tmp, key, r, dump = repo
    p = vigil("backup", "-r", r, "--key", key, "--command", "--", *CAT, str(dump))
    assert p.returncode == 0, p.stderr
    packs = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(r, "data")) for f in fs]
    big = max(packs, key=os.path.getsize)
    with open(big, "r+b") as f:
        f.seek(os.path.getsize(big) // 2)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0x55]))
    out = tmp / "partial.bin"
    p = vigil("restore", "-r", r, "--key", key, "--command", "--", *SINK, str(out))
    assert p.returncode == 1, p.stderr
    assert b"damaged" in p.stderr or b"chunk" in p.stderr, p.stderr
    assert b"was killed" in p.stderr, p.stderr
    # The consumer never saw the end of its input, so it never wrote what it had.
    assert not out.exists()
    p = vigil("restore", "-r", r, "--key", key, "--stdout")
    assert p.returncode == 1 and len(p.stdout) < len(dump.read_bytes())


def test_usage_errors(repo):
    tmp, key, r, dump = repo
    for args in (["backup", "--stdin", str(tmp)], ["backup", "--command"],
                 ["backup", "--stdin", "--command", "--", "true"],
                 ["restore", "--stdout", str(tmp / "x")], ["backup", "--stdout"],
                 ["restore", "--file", "a", str(tmp / "x")], ["snapshots", "--stdin"]):
        p = vigil(args[0], "-r", r, "--key", key, *args[1:])
        assert p.returncode == 2, (args, p.stderr)


def run_on_pty(argv):
    """Run argv with its stderr on a pseudo-terminal; (exit status, what the terminal got)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    got = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        got += chunk
    os.close(master)
    return proc.wait(timeout=60), got


def test_progress_bar_on_a_terminal_only(repo):
    tmp, key, r, dump = repo
    src = tmp / "src"
    src.mkdir()
    (src / "a.bin").write_bytes(dump.read_bytes())
    rc, got = run_on_pty([binary("vigil"), "backup", "-r", r, "--key", key, str(src)])
    assert rc == 0, got
    assert b"\r" in got and b"backup 1 files" in got, got
    rc, got = run_on_pty([binary("vigil"), "restore", "-r", r, "--key", key, str(tmp / "o")])
    assert rc == 0, got
    # The restore knows its total: a bar that ends full.
    assert b"] 100 %" in got and b"#" * 24 in got, got
    rc, got = run_on_pty([binary("vigil"), "verify", "-r", r, "--key", key, "--read-data"])
    assert rc == 0 and b"] 100 %" in got and b"verify " in got, got
    rc, got = run_on_pty([binary("vigil"), "restore", "-r", r, "--key", key, "--no-progress",
                          str(tmp / "o2")])
    assert rc == 0 and b"\r" not in got, got
    # --stdin from a terminal would wait for someone to type: refused.
    master, slave = pty.openpty()
    p = subprocess.run([binary("vigil"), "backup", "-r", r, "--key", key, "--stdin"],
                       stdin=slave, capture_output=True, timeout=60)
    os.close(master)
    os.close(slave)
    assert p.returncode == 1 and b"standard input is a terminal" in p.stderr, p.stderr
    # Not a terminal, and quick: no progress lines, only the summary.
    p = vigil("backup", "-r", r, "--key", key, str(src))
    assert p.returncode == 0 and p.stderr == b"", p.stderr
