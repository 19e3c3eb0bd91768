"""tests/integration/test_control.py — the control API on its unix socket.

Requests that the daemon must refuse are checked for their status code, a
JSON {"error": ...} body, and for leaving everything as it was.
"""

import time

from helpers import unix_request


def assert_error(code, doc, raw, lo, hi=None):
    hi = hi if hi is not None else lo
    assert lo <= code <= hi, f"status {code}: {raw!r}"
    assert isinstance(doc, dict) and isinstance(doc.get("error"), str) and doc["error"], raw


def snapshot(env):
    web = env.cluster()
    return (web["primary"], web["epoch"], web["last_failover"], env.upstream_bytes(),
            env.reload_calls())


def test_status_endpoint(env):
    code, doc, raw = unix_request(env.sock, "GET", "/v1/status")
    assert code == 200, raw
    assert doc["version"] == "0.1.0"
    assert [c["name"] for c in doc["clusters"]] == ["web"]


def test_unknown_cluster_is_404(env):
    code, doc, raw = unix_request(env.sock, "POST", "/v1/clusters/nope/failover", body={})
    assert_error(code, doc, raw, 404)
    r = env.vigilctl("failover", "nope")
    assert r.returncode == 1 and r.stderr.strip(), (r.returncode, r.stderr)


def test_bad_requests_are_400_and_change_nothing(env):
    before = snapshot(env)
    for body in (b"{not json", b'{"to": "b", "bogus": 1}', b'{"to": 5}', b"[1, 2]"):
        code, doc, raw = unix_request(env.sock, "POST", "/v1/clusters/web/failover", body=body)
        assert_error(code, doc, raw, 400)
    code, doc, raw = unix_request(env.sock, "POST", "/v1/clusters/web/failover",
                                  body={"to": "zzz"})
    assert_error(code, doc, raw, 400, 499)
    time.sleep(0.5)
    assert snapshot(env) == before
    assert env.hook.of("failover") == []


def test_failover_to_down_node_is_refused(env):
    env.backends["b"].kill()
    env.wait_health("b", "down", timeout=10)
    time.sleep(0.3)
    before = snapshot(env)

    code, doc, raw = unix_request(env.sock, "POST", "/v1/clusters/web/failover",
                                  body={"to": "b"})
    assert_error(code, doc, raw, 400, 499)
    r = env.vigilctl("failover", "web", "--to", "b")
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip()

    time.sleep(0.5)
    assert snapshot(env) == before
    assert env.promote_calls() == []
    assert env.hook.of("failover") == []
    assert env.traffic() == "a"


def test_failover_to_self_changes_nothing(env):
    """Asking for the current primary must not start a failover (or bump the epoch).

    Whether that is refused (4xx) or accepted as a no-op is the daemon's
    choice; a server error or a new epoch is not.
    """
    before = snapshot(env)
    code, doc, raw = unix_request(env.sock, "POST", "/v1/clusters/web/failover",
                                  body={"to": "a"})
    assert code < 500, f"status {code}: {raw!r}"
    time.sleep(0.5)
    after = snapshot(env)
    assert (after[0], after[1], after[3]) == (before[0], before[1], before[3])
    assert env.promote_calls() == []


def test_api_failover_accepted_then_completes(env):
    code, doc, raw = unix_request(env.sock, "POST", "/v1/clusters/web/failover",
                                  body={"to": "b"})
    assert code == 202, raw
    assert isinstance(doc, dict), raw
    env.wait_primary("b", timeout=10)
    ev = env.hook.wait_event("failover", timeout=5)
    assert (ev["old_primary"], ev["new_primary"]) == ("a", "b")
    env.wait_traffic("b", timeout=10)


def test_duplicate_json_keys_are_refused_not_last_one_wins(env):
    """Regression: {"dry_run":true,"dry_run":false} ran a real failover."""
    before = snapshot(env)
    code, doc, raw = unix_request(env.sock, "POST", "/v1/clusters/web/failover",
                                  body=b'{"dry_run": true, "dry_run": false}')
    assert_error(code, doc, raw, 400)
    assert "duplicate" in doc["error"], doc
    time.sleep(0.5)
    assert snapshot(env) == before
    assert env.promote_calls() == []


def test_a_client_error_names_the_field_at_fault(env):
    for body, field in ((b'{"to": "b", "bogus": 1}', "bogus"), (b'{"to": 5}', "to"),
                        (b'{"dry_run": "yes"}', "dry_run")):
        code, doc, raw = unix_request(env.sock, "POST", "/v1/clusters/web/failover", body=body)
        assert_error(code, doc, raw, 400)
        assert doc.get("field") == field, raw
    code, doc, raw = unix_request(env.sock, "POST", "/v1/clusters/web/rejoin", body={})
    assert_error(code, doc, raw, 400)
    assert doc["field"] == "node", raw
    # Not a field's fault: no field.
    code, doc, raw = unix_request(env.sock, "POST", "/v1/clusters/web/failover", body=b"[1]")
    assert_error(code, doc, raw, 400)
    assert "field" not in doc, raw
    # Unknown paths and wrong methods answer JSON too.
    code, doc, raw = unix_request(env.sock, "GET", "/v2/nothing")
    assert_error(code, doc, raw, 404)
    code, doc, raw = unix_request(env.sock, "DELETE", "/v1/status")
    assert_error(code, doc, raw, 405)
