"""scripts/bench/lib/backuplib.py — the backup bench's dataset, changes and tools.

The dataset is generated from one seed, so two runs back up the same
bytes: source-like text (many files, lines drawn from a large shared pool
and from each file's own small pool, so it repeats the way code does),
already-compressed data (random bytes and gzip output) and one
database-like file of 8 KiB pages (a header, line pointers, free space,
rows of integers and text, PostgreSQL's layout in spirit).  The changes
are seeded too: rewritten pages, edited and added text files.

Each tool (vigil, restic, borg) is a small class that gives the argv and
environment of init, backup and restore; run_measured() times one command
and takes its peak RSS and CPU time from GNU time.
"""

import gzip
import hashlib
import math
import os
import random
import shutil
import signal
import stat
import struct
import subprocess
import threading
import time

from benchlib import CLEANUP, BenchError, log

MIB = 1 << 20
PAGE = 8192
# The tracker's "1 GiB": 400 MiB of text, 300 compressed, a 300 MiB database.
TEXT_SHARE, COMPRESSED_SHARE, DB_SHARE = 0.4, 0.3, 0.3
GZ_SHARE = 1 / 6  # of the compressed part: gzip output; the rest is random bytes
PAGES_PER_MIB = 400 / 300  # the tracker's 400 pages of a 300 MiB file, kept at every size

SYLLABLES = ("ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo ga ge gi go ha he "
             "hi ho ka ke ki ko la le li lo lu ma me mi mo mu na ne ni no nu pa pe pi po "
             "ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo wa we wi xa ya yo "
             "za ze zi str len buf ptr ctx cfg err req res srv node conn sock fd tmp idx "
             "cnt max min ret val key map set get put add del new old end").split()
KEYWORDS = ("if else for while return int char void static const struct unsigned size_t "
            "bool true false NULL break continue switch case default sizeof typedef enum "
            "def import from class self None try except raise with yield func var let fn "
            "pub mut impl use match uint64_t int64_t double").split()
OPS = ("==", "!=", "<", ">", "<=", ">=", "+", "-", "&&", "||", "&", "|")
EXTS = (".c", ".h", ".py", ".go", ".rs", ".js", ".md", ".txt", ".json", ".yaml")


def _zipf_cum(n, s=1.1):
    acc, out = 0.0, []
    for r in range(1, n + 1):
        acc += 1.0 / r ** s
        out.append(acc)
    return out


class TextGen:
    """Code-like lines: a Zipf-weighted identifier vocabulary, a large
    shared pool of lines (repeated across files, as idioms are) and, per
    file, a small pool of its own lines (repeated within it, as a file's
    own names are)."""

    def __init__(self, rng, vocab=8000, pool=200000):
        self.rng = rng
        self.words = []
        for _ in range(vocab):
            parts = rng.choices(SYLLABLES, k=rng.randint(1, 3))
            style = rng.random()
            if style < 0.5:
                self.words.append("_".join(parts))
            elif style < 0.8:
                self.words.append(parts[0] + "".join(p.capitalize() for p in parts[1:]))
            else:
                self.words.append("".join(parts))
        self.wcum = _zipf_cum(vocab)
        self.pool = [self.line(self.word) for _ in range(pool)]
        self.pcum = _zipf_cum(pool, 0.9)

    def word(self):
        return self.rng.choices(self.words, cum_weights=self.wcum)[0]

    def line(self, ident):
        r, rng = self.rng, self.rng
        indent = " " * (4 * rng.choices((0, 1, 2, 3, 4), (2, 5, 4, 2, 1))[0])
        t = r.random()
        if t < 0.08:
            return "\n"
        if t < 0.16:
            return indent + "}\n"
        if t < 0.30:
            return f"{indent}{ident()} = {ident()}({ident()}, {ident()});\n"
        if t < 0.40:
            return f"{indent}if ({ident()} {r.choice(OPS)} {r.randint(0, 64)}) {{\n"
        if t < 0.48:
            return f"{indent}return {ident()};\n"
        if t < 0.58:
            return f"{indent}{r.choice(KEYWORDS)} {ident()} {ident()};\n"
        if t < 0.72:
            words = " ".join(self.word() for _ in range(r.randint(3, 10)))
            return f"{indent}// {words}\n"
        if t < 0.80:
            return f"{indent}{ident()}->{ident()} = {ident()} {r.choice(OPS)} {ident()};\n"
        if t < 0.86:
            return f"{indent}for ({ident()} = 0; {ident()} < {ident()}; {ident()}++) {{\n"
        if t < 0.92:
            words = " ".join(self.word() for _ in range(r.randint(2, 6)))
            return f'{indent}"{ident()}": "{words}",\n'
        return f"#include <{ident()}/{ident()}.h>\n"

    def file_text(self, size):
        """About size bytes of one file's text."""
        rng = self.rng
        local_words = [self.word() for _ in range(30)] + [
            "".join(rng.choices(SYLLABLES, k=3)) for _ in range(8)]

        def local_ident():
            return rng.choice(local_words) if rng.random() < 0.7 else self.word()

        own = [self.line(local_ident) for _ in range(min(40, 4 + size // 600))]
        nlines = max(1, size // 34)
        k_own = int(nlines * 0.45)
        lines = rng.choices(own, k=k_own) + rng.choices(self.pool, cum_weights=self.pcum,
                                                        k=nlines - k_own)
        rng.shuffle(lines)
        return "".join(lines).encode()


def _db_texts(rng, tg, n=40000):
    out = []
    for _ in range(n):
        s = " ".join(tg.word() for _ in range(rng.randint(2, 14))).encode()
        out.append(s)
    return out


def db_page(rng, texts, pageno, lsn):
    """One 8 KiB heap-like page: header, line pointers, free space, rows from the end."""
    fill = int(PAGE * rng.uniform(0.70, 0.97))
    rows, used, ptrs = [], 24, []
    rowid = pageno * 64
    top = PAGE
    while True:
        txt = rng.choice(texts)
        body = struct.pack("<IIIHHB", rng.randint(1000, 1 << 30), 0, pageno, len(rows) + 1,
                           0x0902, 24) + b"\0"
        body += struct.pack("<qiiq", rowid, rng.getrandbits(31), rng.randint(0, 99),
                            1700000000000000 + rowid * 977 + rng.randint(0, 5000))
        body += bytes([len(txt) & 0xff]) + txt
        body += b"\0" * (-len(body) % 8)
        if used + 4 + len(body) > fill:
            break
        top -= len(body)
        rows.append(body)
        ptrs.append(struct.pack("<HH", top, len(body)))
        used += 4 + len(body)
        rowid += 1
    lower = 24 + 4 * len(ptrs)
    head = struct.pack("<QHHHHHHI", lsn, rng.getrandbits(16), 0, lower, top, PAGE, 0x2004, 0)
    return head + b"".join(ptrs) + b"\0" * (top - lower) + b"".join(reversed(rows))


class Dataset:
    """The generated source tree and what each change did to it."""

    def __init__(self, root, total, seed):
        self.root = root
        self.seed = seed
        self.total = total
        self.text_bytes = int(total * TEXT_SHARE)
        self.compressed_bytes = int(total * COMPRESSED_SHARE)
        self.db_pages = max(64, int(total * DB_SHARE) // PAGE)
        self.db_path = os.path.join(root, "db", "main.db")
        self.pages_per_change = max(4, round(self.db_pages * PAGE / MIB * PAGES_PER_MIB))
        self.text_files = []
        self.files = 0
        self._rng = random.Random(seed)
        self._tg = None
        self._texts = None
        self._lsn = 1 << 32

    def generate(self):
        rng = self._rng
        t0 = time.monotonic()
        os.makedirs(self.root)
        self._tg = TextGen(random.Random(rng.getrandbits(64)))
        self._texts = _db_texts(rng, self._tg)
        self._gen_text(self.text_bytes)
        self._gen_compressed(self.compressed_bytes)
        self._gen_db()
        log(f"dataset: {self.files} files, {self.size() / MIB:.0f} MiB in "
            f"{time.monotonic() - t0:.0f} s")

    def size(self):
        return tree_bytes(self.root)

    def _write(self, path, data):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        self.files += 1

    def _gen_text(self, budget, top="src", record=True):
        rng, done, n = self._rng, 0, 0
        while done < budget:
            size = min(1 << 20, max(120, int(rng.lognormvariate(math.log(9000), 1.1))))
            size = min(size, budget - done) if budget - done > 120 else size
            d = os.path.join(self.root, top, f"m{n // 600:03d}", f"d{(n // 40) % 15:02d}")
            name = f"{self._tg.word()}_{n}{rng.choice(EXTS)}"
            data = self._tg.file_text(size)
            path = os.path.join(d, name)
            self._write(path, data)
            if record:
                self.text_files.append(path)
            done += len(data)
            n += 1
        return done

    def _gen_compressed(self, budget):
        rng = self._rng
        gz_budget, done, n = int(budget * GZ_SHARE), 0, 0
        while done < gz_budget:
            raw = b"".join(self._tg.file_text(64 << 10) for _ in range(rng.randint(8, 64)))
            data = gzip.compress(raw, 6, mtime=0)
            self._write(os.path.join(self.root, "media", "archives", f"logs-{n:04d}.gz"), data)
            done += len(data)
            n += 1
        n = 0
        while done < budget:
            size = min(32 * MIB, max(64 << 10, int(rng.lognormvariate(math.log(2 * MIB), 1.0))))
            size = min(size, max(64 << 10, budget - done))
            ext = rng.choice((".jpg", ".mp4", ".zst", ".png"))
            self._write(os.path.join(self.root, "media", f"set{n // 50:02d}", f"IMG_{n:05d}{ext}"),
                        rng.randbytes(size))
            done += size
            n += 1

    def _gen_db(self):
        os.makedirs(os.path.dirname(self.db_path), exist_ok=True)
        with open(self.db_path, "wb") as f:
            for p in range(self.db_pages):
                self._lsn += self._rng.randint(1, 9000)
                f.write(db_page(self._rng, self._texts, p, self._lsn))
        self.files += 1

    def rewrite_pages(self, n, step):
        """Rewrite n distinct random pages of the database file in place; bytes written."""
        rng = random.Random(f"{self.seed}-pages-{step}")
        pages = sorted(rng.sample(range(self.db_pages), n))
        fd = os.open(self.db_path, os.O_WRONLY)
        try:
            for p in pages:
                self._lsn += rng.randint(1, 9000)
                data = db_page(rng, self._texts, p, self._lsn)
                if os.pwrite(fd, data, p * PAGE) != PAGE:
                    raise BenchError(f"short write to {self.db_path}")
            os.fsync(fd)
        finally:
            os.close(fd)
        return n * PAGE

    def edit_text(self, nfiles, budget, step):
        """Edit nfiles existing text files in place (a twentieth of their lines
        replaced, three inserted), then add new files until about budget
        bytes changed in all; (bytes changed, bytes added)."""
        rng = random.Random(f"{self.seed}-text-{step}")
        changed = 0
        for path in rng.sample(self.text_files, min(nfiles, len(self.text_files))):
            with open(path, "rb") as f:
                lines = f.read().splitlines(keepends=True)
            for _ in range(max(1, len(lines) // 20)):
                i = rng.randrange(len(lines))
                lines[i] = rng.choice(self._tg.pool).encode()
                changed += len(lines[i])
            for _ in range(3):
                new = rng.choice(self._tg.pool).encode()
                lines.insert(rng.randrange(len(lines) + 1), new)
                changed += len(new)
            with open(path, "wb") as f:  # same inode, as an editor saving in place
                f.write(b"".join(lines))
        self._rng = rng  # the added files follow from this step's seed too
        added = self._gen_text(max(0, budget - changed), top=f"src-new-{step}", record=False)
        return changed + added, added


def tree_bytes(path):
    """Apparent size of every regular file under path (du -sb without directories)."""
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            try:
                st = os.lstat(os.path.join(d, f))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total


def manifest(root):
    """{relative path: (type, mode, size, sha256)} of a tree."""
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(d, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out[rel] = ("link", 0, 0, os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = ("dir", st.st_mode & 0o7777, 0, "")
            else:
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    while True:
                        b = f.read(1 << 20)
                        if not b:
                            break
                        h.update(b)
                out[rel] = ("file", st.st_mode & 0o7777, st.st_size, h.hexdigest())
    return out


def compare(want, got):
    """'' when equal, else a short description of the first differences."""
    missing = [p for p in want if p not in got]
    extra = [p for p in got if p not in want]
    differ = [p for p in want if p in got and want[p] != got[p]]
    if not (missing or extra or differ):
        return ""
    parts = []
    for what, lst in (("missing", missing), ("extra", extra), ("different", differ)):
        if lst:
            parts.append(f"{len(lst)} {what} (e.g. {sorted(lst)[0]})")
    return ", ".join(parts)


def drop_caches():
    """sync, then drop the page cache; the reason when that is not allowed."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return ""
    except OSError as e:
        return str(e)


TIME = "/usr/bin/time"


class Measured:
    def __init__(self, wall, cpu, rss_kib, rc):
        self.wall, self.cpu, self.rss_kib, self.rc = wall, cpu, rss_kib, rc


def run_measured(argv, env, log_path, timeout, cwd=None):
    """Run argv to its end under GNU time: wall seconds (the bench's clock),
    user+sys CPU seconds and peak RSS (KiB).  Not wait4 from here: a child
    forked from this big Python process starts with its high-water RSS, which
    exec keeps in ru_maxrss; time is small, so its child's figure is the
    tool's own.  A command still running after timeout s has its session
    killed; BenchError then, or when it exits non-zero."""
    out = log_path + ".time"
    with open(log_path, "ab") as lf:
        lf.write(("$ " + " ".join(argv) + "\n").encode())
        lf.flush()
        t0 = time.monotonic()
        p = subprocess.Popen([TIME, "-f", "%U %S %M %x", "-o", out, "--", *argv],
                             stdin=subprocess.DEVNULL, stdout=lf, stderr=lf, env=env, cwd=cwd,
                             start_new_session=True)
    timed_out, reaped = threading.Event(), threading.Event()

    def kill():
        if reaped.is_set():  # its pid may belong to someone else by now
            return
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def expire():
        timed_out.set()
        kill()

    CLEANUP.push(kill)  # Ctrl-C while it runs: the session dies with the bench
    timer = threading.Timer(timeout, expire)
    timer.start()
    try:
        p.wait()
        reaped.set()
    finally:
        timer.cancel()
    wall = time.monotonic() - t0
    if timed_out.is_set():
        raise BenchError(f"{argv[0]} {argv[1]}: still running after {timeout:g} s (see {log_path})")
    try:
        with open(out) as f:
            fields = f.read().split("\n")[-2].split()  # the last line; "Command exited..." may precede
        user, sys_, rss, rc = float(fields[0]), float(fields[1]), int(fields[2]), int(fields[3])
    except (OSError, ValueError, IndexError) as e:
        raise BenchError(f"{' '.join(argv)}: exit {p.returncode}, no figures from {TIME} ({e}); "
                         f"see {log_path}")
    if rc != 0 or p.returncode != 0:
        raise BenchError(f"{' '.join(argv)}: exit {rc} (see {log_path})")
    return Measured(wall, user + sys_, rss, rc)


def run_quiet(argv, env, log_path, timeout=120, cwd=None):
    """An unmeasured set-up command; BenchError naming its log on failure."""
    run_measured(argv, env, log_path, timeout, cwd)


# ---------------------------------------------------------------- the tools

class Tool:
    """One backup tool's repository in dir; subclasses give the commands."""

    name = ""

    def __init__(self, dir_, binary):
        self.dir = dir_
        self.repo = os.path.join(dir_, "repo")
        self.bin = binary
        self.log = os.path.join(dir_, f"{self.name}.log")
        os.makedirs(dir_)
        home = os.path.join(dir_, "home")
        os.makedirs(home)
        # A private HOME: caches and configs of the tools stay in the temp dir.
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home, "LANG": "C.UTF-8",
                    "XDG_CACHE_HOME": os.path.join(home, ".cache"),
                    "XDG_CONFIG_HOME": os.path.join(home, ".config")}

    def repo_bytes(self):
        return tree_bytes(self.repo)

    def restored_root(self, target, source):
        """Where the source's copy lands under a restore target."""
        return os.path.join(target, source.lstrip("/"))


class Vigil(Tool):
    name = "vigil"

    def version(self):
        r = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "describe",
                            "--always", "--dirty"], capture_output=True, text=True, timeout=30)
        rev = r.stdout.strip() if r.returncode == 0 else "?"
        return f"vigil {self.bin} (tree at {rev})"

    def init(self):
        key = os.path.join(self.dir, "key")
        run_quiet([self.bin, "keygen", key], self.env, self.log)
        self.key = key
        run_quiet([self.bin, "init", "-r", self.repo, "--key", key], self.env, self.log)

    def backup_argv(self, source, label):
        return [self.bin, "backup", "-r", self.repo, "--key", self.key, source]

    def restore_argv(self, target):
        return [self.bin, "restore", "-r", self.repo, "--key", self.key, "--snapshot", "latest",
                target]

    def restored_root(self, target, source):
        return target


class Restic(Tool):
    name = "restic"

    def __init__(self, dir_, binary):
        super().__init__(dir_, binary)
        pw = os.path.join(dir_, "password")
        with open(pw, "w") as f:
            f.write("vigil-bench-password\n")
        self.env.update(RESTIC_REPOSITORY=self.repo, RESTIC_PASSWORD_FILE=pw,
                        RESTIC_CACHE_DIR=os.path.join(dir_, "cache"))

    def version(self):
        r = subprocess.run([self.bin, "version"], capture_output=True, text=True, timeout=30)
        return r.stdout.strip().split(" compiled")[0]

    def init(self):
        # Format 2 is the one with compression (default "auto": zstd, fast level).
        run_quiet([self.bin, "init", "--repository-version", "2"], self.env, self.log)

    def backup_argv(self, source, label):
        return [self.bin, "backup", "--compression", "auto", "--tag", label, source]

    def restore_argv(self, target):
        return [self.bin, "restore", "latest", "--target", target]


class Borg(Tool):
    name = "borg"

    def __init__(self, dir_, binary):
        super().__init__(dir_, binary)
        self.env.update(BORG_REPO=self.repo, BORG_PASSPHRASE="vigil-bench-password",
                        BORG_BASE_DIR=os.path.join(dir_, "base"),
                        BORG_RELOCATED_REPO_ACCESS_IS_OK="yes")

    def version(self):
        r = subprocess.run([self.bin, "--version"], capture_output=True, text=True, timeout=60)
        return r.stdout.strip()

    def init(self):
        run_quiet([self.bin, "init", "--encryption", "repokey"], self.env, self.log)

    def backup_argv(self, source, label):
        self.last = label
        return [self.bin, "create", "--stats", "--compression", "zstd,3", f"::{label}", source]

    def restore_argv(self, target):
        # borg extracts into the working directory; the last archive is the latest.
        return [self.bin, "extract", f"::{self.last}"]


TOOLS = {"vigil": Vigil, "restic": Restic, "borg": Borg}


def ensure_installed(names):
    """Install restic / borgbackup / GNU time with apt when missing (as root), as deps.sh does."""
    want = {"restic": "restic", "borg": "borgbackup"}
    missing = [want[n] for n in names if n in want and not shutil.which(n)]
    if not os.access(TIME, os.X_OK):
        missing.append("time")
    if not missing:
        return
    if os.geteuid() != 0:
        raise BenchError(f"missing {' '.join(missing)} and not root: apt-get install them first")
    log(f"installing {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    argv = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=env)
    if r.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=600, env=env)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=env)
    if r.returncode != 0:
        raise BenchError(f"apt-get install {' '.join(missing)}: {r.stderr.strip()[-300:]}")
