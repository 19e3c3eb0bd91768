#!/usr/bin/python3
"""scripts/bench/lib/client.py — the failover bench's client, run inside its namespace.

`client.py run --port P`: send `GET /` to 127.0.0.1:P every --period
seconds, each request on its own connection and concurrent with the others
(asyncio), so a request hanging on a frozen backend never delays the next
one.  Each finished request prints one line

    R SEQ SENT END STATUS BODY

SENT/END are time.monotonic() seconds (CLOCK_MONOTONIC, the same clock the
bench reads outside the namespace), STATUS is the HTTP status or `timeout`
or `error:REASON`, BODY the stripped body ('-' if none).  A line `STOP` on
stdin (or EOF, or --max-seconds) stops sending; requests in flight are then
awaited (each is bounded by --timeout) and `DONE` is printed last.

`client.py wait --ports P,Q --timeout S`: exit 0 once every port accepts a
connection, 1 after S seconds.
"""

import argparse
import asyncio
import socket
import sys
import time


async def one_request(seq, port, timeout):
    sent = time.monotonic()
    status, body = "error:unknown", "-"
    writer = None
    try:
        async with asyncio.timeout(timeout):  # the whole exchange, connect included
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n")
            data = await reader.read()  # HTTP/1.0: the server closes after the response
        head, _, payload = data.partition(b"\r\n\r\n")
        parts = head.split(b" ", 2)
        if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
            status = parts[1].decode()
            words = payload.decode(errors="replace").split()
            body = words[0] if words else "-"
        else:
            status = "error:bad-response" if data else "error:empty"
    except TimeoutError:
        status = "timeout"
    except ConnectionRefusedError:
        status = "error:refused"
    except ConnectionResetError:
        status = "error:reset"
    except OSError as e:
        status = f"error:{type(e).__name__}"
    finally:
        if writer is not None:
            writer.close()
    end = time.monotonic()
    sys.stdout.write(f"R {seq} {sent:.6f} {end:.6f} {status} {body}\n")
    sys.stdout.flush()


async def run(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_stdin():
        line = sys.stdin.readline()
        if not line or line.strip() == "STOP":
            stop.set()
            loop.remove_reader(sys.stdin.fileno())

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    tasks = set()
    start = time.monotonic()
    due = start
    seq = 0
    while not stop.is_set() and time.monotonic() - start < args.max_seconds:
        t = loop.create_task(one_request(seq, args.port, args.timeout))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
        seq += 1
        due += args.period
        now = time.monotonic()
        if due < now - args.period:  # we fell behind: skip, never burst
            due = now
        try:
            await asyncio.wait_for(stop.wait(), max(0.0, due - now))
        except asyncio.TimeoutError:
            pass
    if tasks:
        await asyncio.wait(list(tasks))
    sys.stdout.write("DONE\n")
    sys.stdout.flush()


def wait_ports(args):
    ports = [int(p) for p in args.ports.split(",")]
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        ok = True
        for p in ports:
            try:
                with socket.create_connection(("127.0.0.1", p), timeout=0.5):
                    pass
            except OSError:
                ok = False
                break
        if ok:
            return 0
        time.sleep(0.02)
    return 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--period", type=float, default=0.02)
    r.add_argument("--timeout", type=float, default=5.0)
    r.add_argument("--max-seconds", type=float, default=120.0)
    w = sub.add_parser("wait")
    w.add_argument("--ports", required=True)
    w.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args()
    if args.cmd == "wait":
        return wait_ports(args)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
