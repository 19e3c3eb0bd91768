"""tests/integration/test_pagers.py — pager sinks against the real daemon.

A Slack-style and a PagerDuty-style sink point at local receivers; one more
sink hangs (accepts the connection, never answers).  A failover must not
wait for any of them, PagerDuty gets a trigger and, once the cluster is
healthy again, a resolve with the same dedup_key, and no log line carries
a sink's URL or key.
"""

import json
import socket
import threading

from helpers import wait_for

SECRET_KEY = "R0UTINGKEY-do-not-log-0123456789"


class Hanging:
    """Accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.stop = True
        for c in self.conns:
            c.close()
        self.sock.close()


def test_pagers_never_delay_a_failover_and_pagerduty_resolves(make_env):
    hang = Hanging()
    try:
        env = make_env(start_vigil=False, extra='rejoin_after = "200ms";')
        key_file = env.path("pd.key")
        with open(key_file, "w") as f:
            f.write(SECRET_KEY + "\n")
        url = f"http://127.0.0.1:{env.hook.port}/"
        sinks = (f'{{ type = "pagerduty"; url = "{url}pd"; routing_key_file = "{key_file}";'
                 f' min_severity = "critical"; }},\n'
                 f'  {{ type = "slack"; url = "{url}slack"; }},\n'
                 f'  {{ type = "webhook"; url = "http://127.0.0.1:{hang.port}/hang"; timeout = "30s"; }}, ')
        text = env.config_text().replace("alerts = ( ", "alerts = ( " + sinks, 1)
        with open(env.conf, "w") as f:
            f.write(text)
        env.start_daemon()

        env.backends["a"].kill()
        # The hanging sink has a 30 s timeout: the failover must not wait for it.
        env.wait_primary("b", timeout=5)
        env.wait_traffic("b", timeout=5)
        pd = lambda: [json.loads(b) for p, b, _ in env.hook.raw if p.endswith("/pd")]  # noqa: E731
        wait_for(lambda: any(e["event_action"] == "trigger" for e in pd()), 5, what="PD trigger")
        trig = [e for e in pd() if e["event_action"] == "trigger"][0]
        assert trig["routing_key"] == SECRET_KEY
        assert trig["dedup_key"].startswith("vigil-web-")
        for field in ("summary", "source", "severity", "timestamp"):
            assert trig["payload"].get(field), trig
        slack = [json.loads(b) for p, b, _ in env.hook.raw if p.endswith("/slack")]
        assert slack and all(isinstance(m.get("text"), str) and "web" in m["text"] for m in slack)

        # a comes back, is readmitted (rejoin_after): healthy again -> resolve.
        env.backends["a"].start()
        wait_for(lambda: any(e["event_action"] == "resolve" for e in pd()), 15, what="PD resolve")
        res = [e for e in pd() if e["event_action"] == "resolve"][0]
        assert res["dedup_key"] == trig["dedup_key"]
        log = env.log()
        assert SECRET_KEY not in log and "/pd" not in log and str(hang.port) not in log
    finally:
        hang.close()
