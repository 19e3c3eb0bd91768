#!/usr/bin/env python3
"""tests/unit/s3_fault_proxy.py - a checking, misbehaving S3 front for test_backup_s3.

Sits between the S3 store and s3rver (127.0.0.1 only). For every request it
  * checks the AWS SigV4 signature the way S3 does (canonical URI and query
    rebuilt from the decoded request, headers as signed, payload hash from
    x-amz-content-sha256) against --secret, since s3rver does not check
    v4 signatures at all; a mismatch gets 403 SignatureDoesNotMatch;
  * checks x-amz-content-sha256 and Content-MD5 against the body, and the
    session token against --token (a wrong one is echoed back in the
    message, as a careless server might, to test redaction);
  * then applies the next fault of --faults (cycled, one letter per request):
      .  forward to s3rver              e  500 InternalError
      b  503 SlowDown                   t  429 TooManyRequests
      r  close without answering        s  stall --stall seconds, then close
      h  forward, send half the answer, stall, close
      c  forward a PUT with one byte flipped (the ETag then differs)
  * with --conditional, answers a PUT carrying If-None-Match: * with 412
    when the object exists (s3rver ignores the header); with
    --drop-first-conditional, forwards the first such PUT and then closes
    without answering, as if the answer was lost.
Counts go to --stats as JSON after every request. Exits on SIGTERM, when its
parent goes away, or after --lifetime seconds.
"""
import argparse
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
STATS = {"requests": 0, "faults": 0, "sig_ok": 0, "sig_bad": 0, "sig_bad_why": [],
         "foreign": 0, "forwarded": 0,
         "conditional_412": 0, "dropped": 0, "methods": {}}
ARGS = None
DROPPED_ONE = [False]


def save_stats():
    tmp = ARGS.stats + ".tmp"
    with open(tmp, "w") as f:
        json.dump(STATS, f)
    os.replace(tmp, ARGS.stats)


def count(field):
    """Counted and saved before the answer goes out, so the test sees it."""
    with LOCK:
        STATS[field] += 1
        save_stats()


def uri_encode(s, keep_slash):
    return urllib.parse.quote(s, safe="/~" if keep_slash else "~")


def canonical_query(raw):
    pairs = []
    for part in raw.split("&") if raw else []:
        k, _, v = part.partition("=")
        pairs.append((uri_encode(urllib.parse.unquote(k), False),
                      uri_encode(urllib.parse.unquote(v), False)))
    return "&".join("%s=%s" % kv for kv in sorted(pairs))


def check_signature(method, raw_path, headers):
    """None when the request is signed right, else why not."""
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "not a SigV4 request"
    fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    scope = fields["Credential"].split("/")
    signed = fields["SignedHeaders"].split(";")
    if scope[2:] != [ARGS.region, "s3", "aws4_request"]:
        return "wrong scope %s" % "/".join(scope[1:])
    if "host" not in signed or "x-amz-date" not in signed:
        return "host or x-amz-date not signed"
    for h in headers:
        if h.startswith("x-amz-") and h not in signed:
            return "header %s present but not signed" % h
    if not headers.get("x-amz-date", "").startswith(scope[1]):
        return "date does not match the scope"
    path, _, query = raw_path.partition("?")
    creq = "\n".join([
        method,
        uri_encode(urllib.parse.unquote(path), True),
        canonical_query(query),
        "".join("%s:%s\n" % (h, " ".join(headers.get(h, "").split())) for h in signed),
        ";".join(signed),
        headers.get("x-amz-content-sha256", ""),
    ])
    sts = "\n".join(["AWS4-HMAC-SHA256", headers["x-amz-date"], "/".join(scope[1:]),
                     hashlib.sha256(creq.encode()).hexdigest()])
    key = ("AWS4" + ARGS.secret).encode()
    for part in scope[1:]:
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    want = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(want, fields["Signature"]) else "signature mismatch"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def error(self, status, code, message):
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
                '<Message>%s</Message><RequestId>proxy</RequestId></Error>' % (code, message)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def upstream(self, method, body, headers):
        conn = http.client.HTTPConnection("127.0.0.1", ARGS.upstream, timeout=30)
        conn.request(method, self.path, body=body if method == "PUT" else None, headers=headers)
        resp = conn.getresponse()
        data = resp.read() if method != "HEAD" else b""
        out = [(k, v) for k, v in resp.getheaders()
               if k.lower() not in ("connection", "transfer-encoding", "keep-alive")]
        conn.close()
        return resp.status, out, data

    def relay(self, status, headers, data, half=False):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if half:
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            time.sleep(ARGS.stall)
            self.close_connection = True
            return
        self.wfile.write(data)

    def checks(self, hdrs, body):
        """An error answer (status, code, message) for a request S3 would refuse, or None."""
        if ARGS.secret:
            why = check_signature(self.command, self.path, hdrs)
            if not self.foreign():
                count("sig_bad" if why else "sig_ok")
                if why:
                    with LOCK:
                        if len(STATS["sig_bad_why"]) < 5:
                            STATS["sig_bad_why"].append("%s %s: %s" % (self.command,
                                                                       self.path, why))
                        save_stats()
            if why:
                return (403, "SignatureDoesNotMatch",
                        "The request signature we calculated does not match (%s)" % why)
        if hdrs.get("x-amz-content-sha256") != hashlib.sha256(body).hexdigest():
            return 400, "XAmzContentSHA256Mismatch", "content hash mismatch"
        md5 = hdrs.get("content-md5")
        if self.command == "PUT" and md5 != base64.b64encode(hashlib.md5(body).digest()).decode():
            return 400, "BadDigest", "Content-MD5 missing or wrong"
        if ARGS.token is not None and hdrs.get("x-amz-security-token") != ARGS.token:
            return (403, "InvalidToken", "The provided token %s is invalid"
                    % hdrs.get("x-amz-security-token", "(none)"))
        return None

    def foreign(self):
        """Not the test's own objects: another client that found this port (a port
        reused on a busy machine, while test programs run side by side) must count
        neither as a request nor against the signatures under test, nor take a fault."""
        return bool(ARGS.prefix) and ARGS.prefix not in urllib.parse.unquote(self.path)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        hdrs = {k.lower(): v for k, v in self.headers.items()}
        if self.foreign():
            count("foreign")
            self.serve(hdrs, body, ".")
            return
        with LOCK:
            i = STATS["requests"]
            STATS["requests"] += 1
            STATS["methods"][self.command] = STATS["methods"].get(self.command, 0) + 1
            fault = ARGS.faults[i % len(ARGS.faults)] if ARGS.faults else "."
            if fault == "c" and self.command != "PUT":
                fault = "."
            if fault != ".":
                STATS["faults"] += 1
            save_stats()
        self.serve(hdrs, body, fault)

    def serve(self, hdrs, body, fault):
        refused = self.checks(hdrs, body)
        if refused:
            self.error(*refused)
            return
        simple = {"e": (500, "InternalError", "injected"), "b": (503, "SlowDown", "injected"),
                  "t": (429, "TooManyRequests", "injected")}
        if fault in simple:
            self.error(*simple[fault])
            return
        if fault in "rs":
            if fault == "s":
                time.sleep(ARGS.stall)
            self.close_connection = True
            return
        fwd = {k: v for k, v in self.headers.items() if k.lower() not in ("if-none-match",)}
        if self.command == "PUT" and hdrs.get("if-none-match") == "*" and ARGS.conditional:
            status, _, _ = self.upstream("HEAD", b"", {k: v for k, v in fwd.items()
                                                       if k.lower() != "content-length"})
            if status == 200:
                count("conditional_412")
                self.error(412, "PreconditionFailed", "At least one of the pre-conditions failed")
                return
            if ARGS.drop_first_conditional and not DROPPED_ONE[0]:
                DROPPED_ONE[0] = True
                self.upstream("PUT", body, fwd)
                count("dropped")
                self.close_connection = True
                return
        if fault == "c":
            body = bytes([body[0] ^ 0xFF]) + body[1:] if body else b"x"
            fwd["Content-Length"] = str(len(body))
        status, headers, data = self.upstream(self.command, body, fwd)
        count("forwarded")
        self.relay(status, headers, data, half=(fault == "h" and len(data) > 1))

    do_GET = do_PUT = do_HEAD = do_DELETE = handle_any


def watchdog(parent):
    deadline = time.time() + ARGS.lifetime
    while os.getppid() == parent and time.time() < deadline:
        time.sleep(0.2)
    os._exit(0)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", type=int, required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--stats", required=True)
    p.add_argument("--secret")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--token")
    p.add_argument("--prefix", help="count (and fault) only requests for paths holding this "
                   "prefix")
    p.add_argument("--faults", default="")
    p.add_argument("--stall", type=float, default=5.0)
    p.add_argument("--conditional", action="store_true")
    p.add_argument("--drop-first-conditional", action="store_true")
    p.add_argument("--lifetime", type=float, default=300.0)
    ARGS = p.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    save_stats()
    threading.Thread(target=watchdog, args=(os.getppid(),), daemon=True).start()
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.replace(tmp, ARGS.port_file)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
