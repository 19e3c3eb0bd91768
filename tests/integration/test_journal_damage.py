"""tests/integration/test_journal_damage.py — a damaged journal never reverts a failover.

Found by a hostile-input probe: after a failover a -> b, one flipped byte in
the `promoted` record (or a torn middle line, or an emptied journal) made
the restarted vigil take a as primary again, un-fenced, and rewrite the
nginx upstream back to a, while the file vigil itself had written said b.
Now every record carries a sequence number and a checksum; at start-up the
journal is held against the marks of the files vigil rendered; when either
fails, vigil serves what the balancers serve, takes no action, alerts
`held`, and waits for `vigilctl resolve`.
"""

import json
import os

from helpers import wait_for


def journal_path(env):
    return env.path("state", "journal.jsonl")


def journal(env):
    with open(journal_path(env)) as f:
        return [json.loads(line) for line in f if line.strip()]


def fail_over_to_b(env):
    env.backends["a"].kill()
    env.wait_primary("b", timeout=10)
    env.hook.wait_event("failover", timeout=10)
    env.backends["a"].start()
    env.wait_health("a", "up", timeout=10)
    assert env.stop_vigil() == 0


def edit_journal(env, fn):
    with open(journal_path(env)) as f:
        lines = f.read().splitlines(keepends=True)
    with open(journal_path(env), "w") as f:
        f.write("".join(fn(lines)))


def assert_held_serving_b(env, upstream_before, reloads_before, why):
    held = env.hook.wait_event("held", timeout=10)
    assert why in held["reason"], held
    web = env.cluster()
    assert web["state"] == "held" and why in web["state_reason"], web
    assert web["primary"] == "b", "held, vigil shows what the balancer serves"
    # Nothing was touched: the file vigil wrote stays, byte for byte, unreloaded.
    assert env.upstream_bytes() == upstream_before
    assert env.reload_calls() == reloads_before
    env.wait_traffic("b", timeout=5)
    assert len(env.promote_calls()) == 1
    # No action while held, not even an operator's failover.
    r = env.vigilctl("failover", "web", "--to", "a")
    assert r.returncode == 1 and "held" in (r.stdout + r.stderr), (r.stdout, r.stderr)


def test_a_flipped_byte_in_the_promoted_record_holds_until_resolved(env):
    fail_over_to_b(env)
    upstream, reloads = env.upstream_bytes(), env.reload_calls()
    assert b"primary b, epoch 1." in upstream

    def flip(lines):
        return [l.replace('"cluster"', '"clusper"', 1) if '"event":"promoted"' in l else l
                for l in lines]
    edit_journal(env, flip)
    env.restart_daemon()
    assert_held_serving_b(env, upstream, reloads, "checksum mismatch")
    assert "held" in [e["event"] for e in journal(env) if e.get("cluster") == "web"]

    # The operator names the primary: a new epoch, the other claimant fenced, rendered.
    r = env.vigilctl("resolve", "web", "--primary", "b", "--reason", "checked by hand")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "epoch 2" in r.stdout
    wait_for(lambda: env.cluster()["state"] == "degraded", 10, what="resolved and settled")
    web = env.cluster()
    assert web["primary"] == "b" and web["epoch"] == 2, web
    assert env.node("a")["role"] == "fenced"
    wait_for(lambda: b"primary b, epoch 2." in env.upstream_bytes(), 10, what="a render at epoch 2")
    env.wait_traffic("b", timeout=5)
    # A second resolve finds nothing to do.
    again = env.vigilctl("resolve", "web", "--primary", "a")
    assert again.returncode == 1 and "not held" in again.stderr

    # The resolution is durable: the next start trusts the journal again.
    assert env.stop_vigil() == 0
    env.restart_daemon()
    wait_for(lambda: env.cluster()["state"] == "degraded", 10, what="trusted after resolve")
    web = env.cluster()
    assert web["primary"] == "b" and web["epoch"] == 2
    assert len(env.promote_calls()) == 1


def test_an_emptied_journal_holds_on_what_the_balancer_serves(env):
    fail_over_to_b(env)
    upstream, reloads = env.upstream_bytes(), env.reload_calls()
    open(journal_path(env), "w").close()
    env.restart_daemon()
    assert_held_serving_b(env, upstream, reloads, "journal records are missing")


def test_a_torn_middle_line_holds(env):
    fail_over_to_b(env)
    upstream, reloads = env.upstream_bytes(), env.reload_calls()

    def tear(lines):
        return [l[:30] + "\n" if '"event":"promoted"' in l else l for l in lines]
    edit_journal(env, tear)
    env.restart_daemon()
    assert_held_serving_b(env, upstream, reloads, "not a JSON object")


def test_resolve_validates_its_request(env):
    fail_over_to_b(env)
    open(journal_path(env), "w").close()
    env.restart_daemon()
    env.hook.wait_event("held", timeout=10)
    r = env.vigilctl("resolve", "web", "--primary", "zz")
    assert r.returncode == 1 and "no node zz" in r.stderr
    r = env.vigilctl("resolve", "web")
    assert r.returncode == 2
    assert env.cluster()["state"] == "held"


def test_an_older_vigils_journal_is_read_and_rewritten_checksummed(make_env):
    env = make_env(start_vigil=False)
    os.makedirs(env.path("state"), mode=0o700)
    # What an older vigil left: format 1 records, and an upstream mark without epoch.
    with open(journal_path(env), "w") as f:
        for rec in ({"cluster": "web", "event": "failover_started", "epoch": 1,
                     "old_primary": "a", "new_primary": "b"},
                    {"cluster": "web", "event": "promoted", "epoch": 1,
                     "old_primary": "a", "new_primary": "b"},
                    {"cluster": "web", "event": "failover", "epoch": 1}):
            f.write(json.dumps(rec) + "\n")
    with open(env.lb.upstream_file, "w") as f:
        f.write("# Managed by vigil: do not edit. Cluster web, primary b.\n"
                f"upstream web_backend {{\n    server {env.backends['b'].address};\n}}\n")
    env.restart_daemon()
    wait_for(lambda: os.path.exists(journal_path(env) + ".1"), 10,
             what="the journal to be rewritten in format 2")
    web = env.cluster()
    assert web["state"] != "held" and web["primary"] == "b" and web["epoch"] == 1, web
    assert env.node("a")["role"] == "fenced"
    recs = journal(env)
    assert recs[0]["event"] == "journal_rotated" and all("sum" in r for r in recs), recs
    assert "rewritten in format 2" in env.log()
