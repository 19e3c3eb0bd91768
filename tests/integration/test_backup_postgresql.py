"""tests/integration/test_backup_postgresql.py — real pg_dump and pg_basebackup through vigil's streams.

Two real PostgreSQL servers (tests/integration/pg.py).  `vigil backup
--command -- pg_dump -Fc` stores server a's database in an encrypted
repository; `vigil restore --command -- pg_restore` loads it into server b,
which then holds the same rows.  A pg_dump that fails (a database that does
not exist) leaves no snapshot.  A second dump after a small change stores
little: content-defined chunks find what the first dump already holds
(with pg_dump -Z0: its own compression would make every dump new bytes).
pg_basebackup's tar stream, restored through tar -x, is a data directory
a new server starts from.
"""

import os
import subprocess

import psycopg2

from conftest import binary
from pg import PgNode
from test_postgresql import make_cluster, pg_user, template  # noqa: F401  (fixtures)


def vigil(*args):
    return subprocess.run([binary("vigil"), *args], capture_output=True, text=True, timeout=300)


def repo_bytes(r):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(r) for f in fs)


def test_pg_dump_into_the_repository_and_pg_restore_out_of_it(make_cluster, tmp_path):
    c = make_cluster()
    a = c.primary("a")
    b = c.primary("b")  # a second, empty server: where the dump is restored
    a.sql("create database app")
    app = psycopg2.connect(host="127.0.0.1", port=a.port, user="postgres", dbname="app")
    app.autocommit = True
    with app.cursor() as cur:
        cur.execute("create table t (id int primary key, body text)")
        cur.execute("insert into t select g, repeat(md5(g::text), 20) from "
                    "generate_series(1, 20000) g")
    key, repo = str(tmp_path / "key"), str(tmp_path / "repo")
    assert vigil("keygen", key).returncode == 0
    assert vigil("init", "-r", repo, "--key", key).returncode == 0
    # -Z0: pg_dump's own compression would make every dump new bytes; vigil compresses.
    dump = [os.path.join(c.bindir, "pg_dump"), "-Fc", "-Z0", "-h", "127.0.0.1", "-p",
            str(a.port), "-U", "postgres", "app"]
    p = vigil("backup", "-r", repo, "--key", key, "--job", "app", "--stdin-name", "app.dump",
              "--command", "--", *dump)
    assert p.returncode == 0, p.stderr
    first = repo_bytes(repo)

    # A dump of a database that is not there: pg_dump fails, nothing is stored.
    bad = dump[:-1] + ["no_such_db"]
    p = vigil("backup", "-r", repo, "--key", key, "--job", "app", "--command", "--", *bad)
    assert p.returncode == 1 and "pg_dump exited with status 1" in p.stderr, p.stderr
    p = vigil("snapshots", "-r", repo, "--key", key)
    assert p.stdout.count("stream:") == 1, p.stdout

    # A few rows change: the next dump stores a fraction of the first.
    with app.cursor() as cur:
        cur.execute("update t set body = 'changed' where id % 1000 = 0")
    app.close()
    p = vigil("backup", "-r", repo, "--key", key, "--job", "app", "--stdin-name", "app.dump",
              "--command", "--", *dump)
    assert p.returncode == 0, p.stderr
    assert repo_bytes(repo) - first < first / 3, (first, repo_bytes(repo))

    b.sql("create database app")
    restore = [os.path.join(c.bindir, "pg_restore"), "-h", "127.0.0.1", "-p", str(b.port),
               "-U", "postgres", "-d", "app", "--exit-on-error"]
    p = vigil("restore", "-r", repo, "--key", key, "--job", "app", "--command", "--", *restore)
    assert p.returncode == 0, p.stderr
    got = psycopg2.connect(host="127.0.0.1", port=b.port, user="postgres", dbname="app")
    try:
        with got.cursor() as cur:
            cur.execute("select count(*), count(*) filter (where body = 'changed') from t")
            assert cur.fetchone() == (20000, 20)
    finally:
        got.close()


def test_pg_basebackup_as_a_tar_stream(make_cluster, tmp_path):
    """The other usual dump: pg_basebackup -D - -Ft -X fetch, a tar of the whole
    data directory on standard output, restored into tar -x as a new server's
    data directory, which starts and holds the data."""
    c = make_cluster()
    a = c.primary("a")
    a.sql("create table marker (v text)")
    a.sql("insert into marker values ('from the base backup')")
    key, repo = str(tmp_path / "key"), str(tmp_path / "repo")
    assert vigil("keygen", key).returncode == 0
    assert vigil("init", "-r", repo, "--key", key).returncode == 0
    base = [os.path.join(c.bindir, "pg_basebackup"), "-h", "127.0.0.1", "-p", str(a.port),
            "-U", "postgres", "-D", "-", "-Ft", "-X", "fetch"]
    p = vigil("backup", "-r", repo, "--key", key, "--job", "base", "--stdin-name", "base.tar",
              "--command", "--", *base)
    assert p.returncode == 0, p.stderr
    # Restored into a new server's data directory, which then starts and has the row.
    node = PgNode(c, "restored")
    c.nodes["restored"] = node  # so the cluster stops it at the end
    os.makedirs(node.data, mode=0o700)
    p = vigil("restore", "-r", repo, "--key", key, "--job", "base", "--command", "--",
              "tar", "-x", "-C", node.data)
    assert p.returncode == 0, p.stderr
    if os.geteuid() == 0:  # tar ran as us; the server runs as the test's OS user
        subprocess.run(["chown", "-R", c.user.name, node.data], check=True)
    node.start()
    assert node.value("select v from marker") == "from the base backup"
