"""tests/integration/test_cli.py — `vigil -t`, `--version`, and vigilctl's output.

The config-check tests need no servers: vigil only reads the file.
"""

import json
import os
import re
import subprocess

import pytest

from conftest import SRCDIR, binary, render_config


def good_config(d):
    nodes = [("a", "127.0.0.1:1", "primary"), ("b", "127.0.0.1:2", "standby")]
    bal = {"file": os.path.join(d, "upstream.conf"), "check": ["/bin/true"],
           "reload": ["/bin/true"], "standby": "backup"}
    return render_config(d, nodes, [bal], promote=["/bin/true", "{node}"],
                         alerts=["http://127.0.0.1:1/alert"])


def run_vigil(*args):
    return subprocess.run([binary("vigil"), *args], capture_output=True, text=True, timeout=30)


def write(d, name, text):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def line_of(text, needle):
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in config")


@pytest.mark.parametrize("flag", ["-t", "--check-config"])
def test_check_config_good(tmpdir_clean, flag):
    path = write(tmpdir_clean, "good.conf", good_config(tmpdir_clean))
    r = run_vigil(flag, "-c", path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok" in (r.stdout + r.stderr).split(), r.stdout + r.stderr


@pytest.mark.parametrize("where", ["top", "node", "probe"])
def test_check_config_unknown_key(tmpdir_clean, where):
    text = good_config(tmpdir_clean)
    if where == "top":
        text = text.replace("state_dir =", "bogus_key = 1;\nstate_dir =", 1)
    elif where == "node":
        text = text.replace('role = "standby";', 'role = "standby"; weight_bogus = 3;', 1)
    else:
        text = text.replace("rise = 2;", "rise = 2;\n               bogus_probe_key = true;", 1)
    needle = {"top": "bogus_key", "node": "weight_bogus", "probe": "bogus_probe_key"}[where]
    path = write(tmpdir_clean, "bad.conf", text)
    r = run_vigil("-t", "-c", path)
    out = r.stdout + r.stderr
    assert r.returncode == 2, f"rc {r.returncode}: {out}"
    assert f"{path}:{line_of(text, needle)}:" in out, out
    assert "ok" not in out.split()


def test_check_config_syntax_error(tmpdir_clean):
    text = good_config(tmpdir_clean).replace("state_dir =", "oops = ;\nstate_dir =", 1)
    path = write(tmpdir_clean, "syntax.conf", text)
    r = run_vigil("-t", "-c", path)
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert re.search(re.escape(path) + r":\d+:", out), out


def test_version():
    r = run_vigil("--version")
    assert r.returncode == 0
    assert "0.1.0" in r.stdout + r.stderr


HEADER = ["CLUSTER", "NODE", "ROLE", "HEALTH", "LATENCY", "SINCE", "OBSERVERS"]


def check_table(text, env):
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert lines and lines[0].split() == HEADER, text
    rows = {}
    for ln in lines[1:]:
        cols = ln.split()
        if len(cols) >= 4 and cols[0] == "web":
            rows[cols[1]] = cols
    assert set(rows) == {"a", "b"}, text
    assert rows["a"][2:4] == ["primary", "up"], text
    assert rows["b"][2:4] == ["standby", "up"], text
    assert rows["a"][6:] == ["http:up"], text  # each observer's view


def test_vigilctl_status_table(env):
    r = env.vigilctl("status")
    assert r.returncode == 0, r.stderr
    check_table(r.stdout, env)

    # VIGIL_SOCKET stands in for -s.
    r = env.vigilctl("status", socket=False, env={"VIGIL_SOCKET": env.sock})
    assert r.returncode == 0, r.stderr
    check_table(r.stdout, env)


def test_vigilctl_status_json_matches_api(env):
    r = env.vigilctl("status", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["version"] == "0.1.0"
    (web,) = doc["clusters"]
    assert web["name"] == "web" and web["state"] == "healthy"
    assert web["primary"] == "a" and web["epoch"] == 0 and web["last_failover"] is None
    by = {n["name"]: n for n in web["nodes"]}
    assert by["a"]["address"] == env.backends["a"].address
    assert by["b"]["address"] == env.backends["b"].address
    for n in by.values():
        assert n["health"] == "up"
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", n["since"]), n["since"]
        assert n["last_probe"]["ok"] is True
        assert isinstance(n["last_probe"]["latency_ms"], (int, float))


def test_vigilctl_without_daemon_fails(tmpdir_clean):
    r = subprocess.run([binary("vigilctl"), "-s", os.path.join(tmpdir_clean, "none.sock"),
                        "status"], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert r.stderr.strip()


TEXT_LINE = re.compile(r"^\S+\s+[A-Za-z]+\s+[\w.-]+:\s\S")


def test_text_log_lines(env):
    env.backends["b"].kill()
    env.wait_health("b", "down")
    lines = [ln for ln in env.log().splitlines() if ln.strip()]
    assert lines
    bad = [ln for ln in lines if not TEXT_LINE.match(ln)]
    assert not bad, bad[:5]
    assert any("b" in ln and "down" in ln.lower() for ln in lines)
    assert env.hook.url not in env.log(), "the alert URL must never be logged"


def test_json_log_lines(make_env):
    env = make_env(log_format="json")
    env.backends["b"].kill()
    env.wait_health("b", "down")
    lines = [ln for ln in env.log().splitlines() if ln.strip()]
    assert lines
    for ln in lines:
        obj = json.loads(ln)
        assert isinstance(obj, dict), ln
    assert env.hook.url not in env.log()


def test_huge_duration_fails_check_config_with_its_line(tmpdir_clean):
    """Regression: 18446744073709551615ms passed -t, then SIGFPE at start and on SIGHUP."""
    text = good_config(tmpdir_clean).replace('interval = "200ms"',
                                             'interval = "18446744073709551615ms"', 1)
    assert "18446744073709551615ms" in text
    path = write(tmpdir_clean, "vigil.conf", text)
    r = run_vigil("-t", "-c", path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "18446744073709551615" in l)
    assert f"{path}:{line}:" in r.stderr and "too large" in r.stderr, r.stderr


def test_a_second_daemon_on_the_same_state_dir_is_refused(env):
    """Regression: two daemons on one state_dir ran at once and appended to one journal."""
    other = env.config_text().replace(env.sock, env.path("other.sock"))
    path = env.path("other.conf")
    with open(path, "w") as f:
        f.write(other)
    r = subprocess.run([binary("vigil"), "-c", path], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert f"held by pid {env.vigil.pid}" in r.stdout + r.stderr
    assert "another vigil runs on this state_dir" in r.stdout + r.stderr
    assert env.vigil.alive() and env.cluster()["state"] == "healthy"


def dispatch_table(path, table):
    """The names of a C dispatch table `table[] = { { "name", fn }, ... };`."""
    with open(os.path.join(SRCDIR, path)) as f:
        text = f.read()
    body = text[text.index(f"{table}[] = {{"):]
    body = body[:body.index("};")]
    names = re.findall(r'\{ "([a-z]+)", \w+ \}', body)
    assert names, f"no entries found in {path}:{table}"
    return names


def man_words(page):
    with open(os.path.join(SRCDIR, "man", page)) as f:
        return set(re.findall(r"[a-z]+", f.read().replace("\\-", "-")))


@pytest.mark.parametrize("prog,path,table,page", [
    ("vigil", "monitor/cli_backup.c", "verbs", "vigil.8"),
    ("vigilctl", "monitor/vigilctl.c", "commands", "vigilctl.8"),
])
def test_every_subcommand_is_in_help_and_man_page(prog, path, table, page):
    names = dispatch_table(path, table)
    r = subprocess.run([binary(prog), "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0
    helped = set(re.findall(r"[a-z]+", r.stdout))
    words = man_words(page)
    for name in names:
        assert name in helped, f"{prog} --help does not list {name}"
        assert name in words, f"man/{page} does not mention {name}"
    if prog == "vigil":
        # vigil backup --help is the verbs' own usage: every verb there too.
        r = subprocess.run([binary("vigil"), "backup", "--help"], capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == 0
        for name in names:
            assert f"vigil {name}" in r.stdout, f"vigil backup --help omits {name}"
