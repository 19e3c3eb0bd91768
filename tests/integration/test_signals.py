"""tests/integration/test_signals.py — SIGHUP reloads, SIGTERM/SIGINT stop.

A broken config on SIGHUP must be logged with its errors while the old
config keeps running; a good one must take effect.
"""

import os
import signal
import time

import pytest

from helpers import wait_for


def test_sighup_with_broken_config_keeps_old_one(env):
    mark = len(env.log())
    with open(env.conf, "w") as f:
        f.write(env.config_text().replace("state_dir =", "bogus_reload_key = 1;\nstate_dir =", 1))
    env.vigil.send(signal.SIGHUP)

    wait_for(lambda: f"{env.conf}:1:" in env.log()[mark:], 5,
             what="the reload error FILE:LINE in vigil's log")
    assert env.vigil.alive()
    web = env.cluster()
    assert web["state"] == "healthy" and web["primary"] == "a"

    # The old config still acts: a dies, b takes over.
    env.backends["a"].kill()
    env.hook.wait_event("failover", timeout=10)
    env.wait_primary("b")

    assert env.stop_vigil() == 0, env.log()[-2000:]


def test_sighup_with_good_config_applies_it(env):
    """The reloaded config adds a second webhook sink: alerts reach it."""
    from helpers import WebhookReceiver
    second = WebhookReceiver()
    try:
        text = env.config_text().replace(
            f'url = "{env.hook.url}"; }}',
            f'url = "{env.hook.url}"; }}, {{ type = "webhook"; url = "{second.url}"; }}', 1)
        assert second.url in text
        with open(env.conf, "w") as f:
            f.write(text)
        env.vigil.send(signal.SIGHUP)
        time.sleep(1.0)
        assert env.vigil.alive()
        env.backends["b"].kill()
        ev = second.wait_event("node_down", timeout=10, pred=lambda e: e.get("node") == "b")
        assert ev["cluster"] == "web"
        assert env.cluster()["primary"] == "a"
    finally:
        second.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_stop_signal_exits_zero(env, sig):
    assert env.stop_vigil(sig=sig, timeout=10) == 0, env.log()[-2000:]
    assert not env.vigil.alive()
    # A stopped daemon leaves the upstream file whole and reachable traffic.
    assert "web_backend" in env.upstream_text()
    assert env.traffic() == "a"
    assert not os.path.exists(env.sock) or not env._status_or_none()


@pytest.mark.parametrize("sig", [signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM],
                         ids=["USR1", "USR2", "ALRM"])
def test_stray_signals_are_ignored_not_fatal(env, sig):
    """Regression: USR1, USR2 and ALRM killed vigil silently (exit 138/140/142)."""
    env.vigil.send(sig)
    name = signal.Signals(sig).name[3:]
    wait_for(lambda: f"signal ignored" in env.log() and f"signal={name}" in env.log(), 5,
             what=f"SIG{name} logged as ignored")
    assert env.vigil.alive()
    assert env.cluster()["state"] == "healthy"
    assert env.stop_vigil() == 0
