"""tests/integration/pg.py — real PostgreSQL servers for the integration tests.

Each PgNode is one data directory in a test's temp dir, run by a non-root
OS user (postgres when it exists, else a temporary system user created for
the session), listening on a free loopback port, with no unix socket at all
(unix_socket_directories = ''), so nothing outside the temp dir is touched.
A PgCluster creates the primary from a template made once per session
(initdb --data-checksums, so pg_rewind works), adds streaming standbys with
pg_basebackup -R, writes the env file the hooks in scripts/hooks/postgresql
read, and stops every postmaster it knows of at close(), even after a
failure: pg_ctl stop -m immediate, then SIGKILL to the postmaster's process
group (pg_ctl makes the postmaster a group leader; its backends share it).
"""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import psycopg2

from helpers import Proc, free_port, wait_for

SRCDIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOOKS = os.path.join(SRCDIR, "scripts", "hooks", "postgresql")
HAPROXY = shutil.which("haproxy", path="/usr/sbin:/usr/bin:/sbin:/bin") or "/usr/sbin/haproxy"
TEMP_USER = "vigil-pgtest"


def bindir():
    """The newest /usr/lib/postgresql/N/bin (Debian's layout)."""
    dirs = [d for d in glob.glob("/usr/lib/postgresql/*/bin")
            if os.access(os.path.join(d, "pg_ctl"), os.X_OK)]
    if not dirs:
        raise RuntimeError("no PostgreSQL server under /usr/lib/postgresql "
                           "(scripts/lib/deps.sh installs it)")
    return max(dirs, key=lambda d: int(d.split("/")[-2].split(".")[0]))


class OsUser:
    """Who runs the servers: never root, which PostgreSQL refuses."""

    def __init__(self):
        self.created = False
        if os.geteuid() != 0:
            self.name = pwd.getpwuid(os.geteuid()).pw_name
            return
        try:
            pwd.getpwnam("postgres")
            self.name = "postgres"
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                            "--shell", "/usr/sbin/nologin", TEMP_USER],
                           check=True, capture_output=True, timeout=30)
            self.name = TEMP_USER
            self.created = True

    def argv(self, argv):
        """argv run as this user (through runuser when we are root)."""
        if os.geteuid() == 0:
            return ["runuser", "-u", self.name, "--"] + list(argv)
        return list(argv)

    def run(self, argv, check=True, timeout=60, **kw):
        r = subprocess.run(self.argv(argv), capture_output=True, text=True, timeout=timeout,
                           cwd="/", **kw)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        return r

    def chown(self, path):
        if os.geteuid() == 0:
            pw = pwd.getpwnam(self.name)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def close(self):
        if self.created:
            subprocess.run(["userdel", self.name], capture_output=True, timeout=30)


SERVER_CONF = """
# added by tests/integration/pg.py
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 30
shared_buffers = 16MB
wal_keep_size = '128MB'
wal_receiver_status_interval = '1s'
wal_retrieve_retry_interval = '200ms'
logging_collector = off
log_line_prefix = '%m [%p] '
"""


def make_template(user, parent):
    """initdb once: every cluster of the session copies it."""
    data = os.path.join(parent, "template")
    os.makedirs(data, mode=0o700)
    user.chown(data)
    user.run([os.path.join(bindir(), "initdb"), "-D", data, "--data-checksums", "--auth=trust",
              "--username=postgres", "--encoding=UTF8", "--locale=C", "--no-sync"])
    with open(os.path.join(data, "postgresql.conf"), "a") as f:
        f.write(SERVER_CONF)
    return data


class PgNode:
    """One PostgreSQL server: a data dir, a port, a log file."""

    def __init__(self, cluster, name):
        self.cluster = cluster
        self.name = name
        self.port = free_port()
        self.data = os.path.join(cluster.dir, name, "data")
        self.log = os.path.join(cluster.dir, name, "postgres.log")
        self.pgids = set()
        os.makedirs(os.path.dirname(self.data))
        self.cluster.user.chown(os.path.dirname(self.data))

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def pg(self, prog):
        return os.path.join(self.cluster.bindir, prog)

    def start(self):
        self.cluster.user.run([self.pg("pg_ctl"), "start", "-D", self.data, "-w", "-t", "30",
                               "-l", self.log, "-o", f"-p {self.port}"])
        self.remember_pid()
        return self

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline().strip())
        except (OSError, ValueError):
            return None

    def remember_pid(self):
        """Note the postmaster's group, to sweep at close() (a hook may have started it)."""
        pid = self.postmaster_pid()
        if pid:
            self.pgids.add(pid)
        return pid

    def running(self):
        r = self.cluster.user.run([self.pg("pg_ctl"), "status", "-D", self.data], check=False)
        return r.returncode == 0

    def kill9(self):
        """SIGKILL the postmaster alone, as a crash would; returns its pid."""
        pid = self.remember_pid()
        assert pid, f"{self.name}: no postmaster.pid"
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self):
        self.remember_pid()
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self.cluster.user.run([self.pg("pg_ctl"), "stop", "-D", self.data, "-m", "immediate",
                                   "-w", "-t", "10"], check=False)
        for pgid in self.pgids:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def connect(self, timeout=2):
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres",
                                dbname="postgres", connect_timeout=timeout)
        conn.autocommit = True
        return conn

    def sql(self, query, args=None):
        """All rows of one statement (autocommit), or None for no result set."""
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(query, args)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def value(self, query, args=None):
        return self.sql(query, args)[0][0]

    def in_recovery(self):
        return self.value("select pg_is_in_recovery()")

    def accepts(self):
        try:
            self.connect(timeout=1).close()
            return True
        except psycopg2.Error:
            return False

    def file(self, name):
        return os.path.join(self.data, name)


class PgCluster:
    """A primary and its standbys in one temp dir, plus the hooks' env file."""

    def __init__(self, user, template, sync_names="", env_extra=""):
        self.user = user
        self.template = template
        self.bindir = bindir()
        self.dir = tempfile.mkdtemp(prefix="vigil-pg-")
        os.chmod(self.dir, 0o755)  # the OS user must reach its data dirs
        self.nodes = {}
        self.sync_names = sync_names
        self.env_extra = env_extra
        self.env_file = self.path("pg.env")

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def primary(self, name, settings=""):
        """Copy the template, add settings (ALTER SYSTEM), start it."""
        node = PgNode(self, name)
        self.nodes[name] = node
        self.user.run(["cp", "-a", self.template, node.data])
        node.start()
        for line in filter(None, settings.splitlines()):
            node.sql(line)
        if settings:
            node.sql("select pg_reload_conf()")
        self.write_env()
        return node

    def standby(self, name, of):
        """pg_basebackup -R from `of`, application_name = name; started, streaming."""
        node = PgNode(self, name)
        self.nodes[name] = node
        self.user.run([node.pg("pg_basebackup"), "-D", node.data, "-R", "-X", "stream",
                       "-c", "fast", "--no-sync",
                       "-d", f"host=127.0.0.1 port={of.port} user=postgres "
                       f"application_name={name}"])
        node.start()
        self.write_env()
        wait_for(lambda: self.streams(of, name), 20, interval=0.1,
                 what=f"{name} to stream from {of.name}")
        return node

    def streams(self, primary, name):
        """name streams from primary, on primary's timeline (asked on both sides)."""
        try:
            if not primary.value("select count(*) from pg_stat_replication "
                                 "where application_name = %s and state = 'streaming'", (name,)):
                return False
            tli = primary.value("select ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), "
                                "1, 8))::bit(32)::int")
            return self.nodes[name].value("select count(*) from pg_stat_wal_receiver where "
                                          "status = 'streaming' and received_tli = %s",
                                          (tli,)) > 0
        except psycopg2.Error:
            return False

    def env_text(self, ssh=None, ssh_command=None, extra=""):
        """The hooks' env file; ssh: {node: target} reached through ssh_command;
        extra: more lines."""
        lines = [f"# written by tests/integration/pg.py for {self.dir}",
                 f"bindir={self.bindir}", "user=postgres", "timeout=20", "connect_timeout=2"]
        if self.sync_names:
            lines.append(f"sync_standby_names={self.sync_names}")
        if ssh_command:
            lines.append(f"ssh_command={ssh_command}")
        for n in self.nodes.values():
            lines += [f"{n.name}.host=127.0.0.1", f"{n.name}.port={n.port}",
                      f"{n.name}.pgdata={n.data}", f"{n.name}.os_user={self.user.name}",
                      f"{n.name}.log_file={n.log}"]
            if ssh and n.name in ssh:
                lines.append(f"{n.name}.ssh={ssh[n.name]}")
        return "\n".join(lines) + "\n" + self.env_extra + extra

    def write_env(self, path=None, **kw):
        path = path or self.env_file
        with open(path, "w") as f:
            f.write(self.env_text(**kw))
        return path

    def hook(self, name, *args, env_file=None, extra_env=None, timeout=60):
        """Run scripts/hooks/postgresql/NAME ENV_FILE ARGS... as vigil would."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIGIL_", "PG"))}
        env.update(extra_env or {})
        return subprocess.run([os.path.join(HOOKS, name), env_file or self.env_file, *args],
                              capture_output=True, text=True, timeout=timeout, env=env)

    def logs(self):
        out = []
        for n in self.nodes.values():
            try:
                with open(n.log, errors="replace") as f:
                    out.append(f"----- {n.name} ({n.log}), last 40 lines:\n"
                               + "".join(f.readlines()[-40:]))
            except OSError:
                pass
        return "\n".join(out)

    def close(self):
        for n in self.nodes.values():
            n.stop()
        if os.environ.get("VIGIL_KEEP_TMP") == "1":
            print(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


class Writer(threading.Thread):
    """Inserts numbered rows, one autocommit INSERT each, through one address.

    acked holds (id, monotonic time, server port) of every INSERT the server
    confirmed;
    an id whose INSERT failed or got no answer is never reused, so a row on
    the new primary that nobody acknowledged is allowed but a missing
    acknowledged id is data loss.
    """

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.acked = []
        self.failures = 0
        self._halt = threading.Event()

    def run(self):
        conn, next_id = None, 1
        while not self._halt.is_set():
            row_id, next_id = next_id, next_id + 1
            try:
                if conn is None:
                    conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres",
                                            dbname="postgres", connect_timeout=2)
                    conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute("insert into acked(id) values (%s) returning inet_server_port()",
                                (row_id,))
                    port = cur.fetchone()[0]
                self.acked.append((row_id, time.monotonic(), port))
            except psycopg2.Error:
                self.failures += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.02)
        if conn is not None:
            conn.close()

    def stop(self):
        self._halt.set()
        self.join(10)

    def acks_after(self, t, port=None):
        return [a for a in self.acked if a[1] > t and (port is None or a[2] == port)]

    def longest_gap(self):
        times = [a[1] for a in self.acked]
        return max((b - a for a, b in zip(times, times[1:])), default=0.0)

    def ids(self):
        return {a[0] for a in self.acked}


class HAProxy:
    """haproxy in TCP mode: one frontend, backend `pg` with a server per node.

    Every server but the primary starts `disabled` (maintenance): vigil owns
    their states from then on through the stats socket.
    """

    def __init__(self, d, nodes, primary):
        self.dir = d
        self.port = free_port()
        self.sock = os.path.join(d, "haproxy.sock")
        self.state_file = os.path.join(d, "haproxy.state")
        self.conf = os.path.join(d, "haproxy.cfg")
        servers = "\n".join(
            f"    server {n.name} {n.address}{'' if n.name == primary else ' disabled'}"
            for n in nodes)
        with open(self.conf, "w") as f:
            f.write(f"""\
global
    stats socket {self.sock} mode 600 level admin
    server-state-file {self.state_file}
defaults
    mode tcp
    # haproxy waits min(timeout connect, 1s) before retrying a refused
    # connection; `redispatch 1` lets every retry (not only the last) take
    # the new primary as soon as vigil has made it ready.
    timeout connect 500ms
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch 1
frontend pg_in
    bind 127.0.0.1:{self.port}
    default_backend pg
backend pg
    load-server-state-from-file global
{servers}
""")
        self.proc = None

    def start(self):
        check = subprocess.run([HAPROXY, "-c", "-f", self.conf], capture_output=True, text=True,
                               timeout=30)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy -c: {check.stdout}{check.stderr}")
        self.proc = Proc([HAPROXY, "-db", "-f", self.conf], os.path.join(self.dir, "haproxy.log"))
        wait_for(lambda: os.path.exists(self.sock) or not self.proc.alive(), 10,
                 what="haproxy's stats socket")
        if not self.proc.alive():
            raise RuntimeError(f"haproxy exited: {self.proc.output()}")
        return self

    def command(self, cmd):
        """One Runtime API command's answer (haproxy closes after answering)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(3)
            s.connect(self.sock)
            s.sendall(cmd.encode() + b"\n")
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out.decode()
                out += chunk

    def server_states(self):
        """{server: srv_admin_state} of backend pg (0 = ready, bit 0x01 = maint)."""
        lines = self.command("show servers state pg").splitlines()
        states = {}
        for line in lines[2:]:
            f = line.split()
            if len(f) > 6 and f[1] == "pg":
                states[f[3]] = int(f[6])
        return states

    def stop(self):
        if self.proc is not None:
            self.proc.stop(timeout=3)
            self.proc = None
