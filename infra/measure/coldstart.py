#!/usr/bin/env python3
"""Cold start of function binaries against a stub of the Lambda Runtime API, with a floor.

    cargo build --profile bench -p workspaces-api -p bookings-api -p inbound-receiver
    python3 infra/measure/coldstart.py target/release/workspaces-api target/release/bookings-api \
        target/release/inbound-receiver --runs 20

Each run starts a binary afresh (as Lambda does for a new execution environment) with a
Runtime API stub on a loopback port, hands it one API Gateway HTTP API (v2) event for
`GET /api/health`, and measures from process start to:
  - init: its first `GET …/invocation/next` (config parsed, AWS SDK clients built, router ready);
  - first response: the `POST …/response` of that event;
and reads its peak RSS (VmHWM) once it has answered. Only workspaces-api serves /api/health
(200); the other HTTP functions answer it from their router (404): the same init and one
routed request. A 5xx or an invocation error fails the run.

The floor: unless --no-floor, the script first builds infra/measure/hello (a hello-world
`lambda_http` function, not a workspace member, built with --floor-profile, default `bench`,
the profile of the command above; use `release` when measuring release binaries) and measures
it in the same run. The binaries take turns run by run (a new shuffled order each turn, a
pause before each start, each from a fresh copy in one temporary directory), so a burst of load
on the machine hits them all and none is favoured by its place or its file's page-cache state; each function's first response is reported against the floor's as the median
of its per-run ratios (same round) and as the ratio of the minima (the least disturbed runs).

Prints min / median / max in milliseconds, then a markdown table. Nothing is sent over the
network but loopback (the AWS endpoints point at a closed port: the health route touches no
AWS service). Not a Lambda measurement (no Firecracker, no image download): it isolates our
own init cost.
"""
from __future__ import annotations

import argparse
import atexit
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EVENT = {
    "version": "2.0",
    "routeKey": "GET /api/health",
    "rawPath": "/api/health",
    "rawQueryString": "",
    "headers": {"host": "example.execute-api.us-east-1.amazonaws.com", "user-agent": "coldstart"},
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "example",
        "domainName": "example.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "example",
        "http": {"method": "GET", "path": "/api/health", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "coldstart"},
        "requestId": "coldstart",
        "routeKey": "GET /api/health",
        "stage": "$default",
        "time": "29/Nov/2026:00:00:00 +0000",
        "timeEpoch": 1795910400000,
    },
    "isBase64Encoded": False,
}


class Run:
    """The state of one run. Each run has its own server and its own Run: a late request from
    the previous run's process can never mark this one."""

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}
        self.done = threading.Event()  # the event was answered
        self.over = threading.Event()  # the run is over (the process is being killed)
        self.response = b""


def runtime_handler(run: Run) -> type[BaseHTTPRequestHandler]:
    class Runtime(BaseHTTPRequestHandler):
        """One event per process: the second `next` blocks until the run is over, so the
        process stays alive (and its peak RSS readable) until it is killed."""

        def log_message(self, *args) -> None:
            pass

        def handle(self) -> None:
            try:
                super().handle()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the process was killed while its `next` was pending

        def do_GET(self) -> None:  # noqa: N802
            if not self.path.endswith("/invocation/next"):
                self.send_error(404)
                return
            if "next" in run.marks:
                run.over.wait(60)
                self.send_error(410)
                return
            run.marks["next"] = time.monotonic()
            body = json.dumps(EVENT).encode()
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", "coldstart-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:coldstart")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            run.marks.setdefault("response" if self.path.endswith("/response") else "error", time.monotonic())
            run.response = data
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            run.done.set()

    return Runtime


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def peak_rss_kib(pid: int) -> int:
    """VmHWM of a live process (KiB), 0 when unreadable."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def one_run(binary: str) -> tuple[float, float, int, int]:
    run = Run()
    server = ThreadingHTTPServer(("127.0.0.1", 0), runtime_handler(run))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    nowhere = f"http://127.0.0.1:{closed_port()}"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": "coldstart",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "coldstart",
        "AWS_LAMBDA_LOG_GROUP_NAME": "coldstart",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": nowhere,
        "TABLE_NAME": "booking-sync",
        "DELIVERY_QUEUE_URL": f"{nowhere}/123456789012/delivery-queue",
        "INBOUND_QUEUE_URL": f"{nowhere}/123456789012/inbound-queue",
        "EXPORT_QUEUE_URL": f"{nowhere}/123456789012/export-queue",
        "EXPORT_BUCKET": "booking-sync-exports",
        "ROOT_API_KEY": "coldstart-root-key-0123456789abcdef",
        "RUST_LOG": "warn",
    }
    started = time.monotonic()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not run.done.wait(30):
            err = proc.stderr.read(2000) if proc.poll() is not None else b""
            sys.exit(f"no response within 30 s (exit {proc.poll()}): {err!r}")
        try:
            status = int(json.loads(run.response)["statusCode"])
        except (ValueError, KeyError, TypeError):
            status = 0
        if "response" not in run.marks or not 200 <= status < 500:
            sys.exit(f"{binary}: unexpected answer: {run.response[:300]!r}")
        rss = peak_rss_kib(proc.pid)
        return (run.marks["next"] - started) * 1000, (run.marks["response"] - started) * 1000, rss, status
    finally:
        run.over.set()
        proc.kill()
        proc.wait()
        server.shutdown()
        server.server_close()


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HELLO = os.path.join(ROOT, "infra", "measure", "hello")


def build_floor(profile: str) -> str:
    """Builds infra/measure/hello; returns its binary."""
    if shutil.which("cargo") is None:
        sys.exit("cargo not found (or pass --no-floor)")
    manifest = os.path.join(HELLO, "Cargo.toml")
    cmd = ["cargo", "build", "-q", "--profile", profile, "--manifest-path", manifest]
    print(f"building the floor: {' '.join(cmd)}", file=sys.stderr)
    try:
        subprocess.run(cmd, check=True, timeout=900)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        sys.exit(f"building the floor failed: {e}")
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(HELLO, "target")
    out = {"dev": "debug", "test": "debug", "release": "release", "bench": "release"}.get(profile, profile)
    binary = os.path.join(target, out, "hello-lambda-http")
    if not os.access(binary, os.X_OK):
        sys.exit(f"no floor binary at {binary}")
    return binary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary", nargs="+", help="function binaries (HTTP functions: lambda_http)")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--no-floor", action="store_true", help="do not build and measure infra/measure/hello")
    ap.add_argument("--settle-ms", type=int, default=150, help="pause before each start (default: 150)")
    ap.add_argument("--floor-profile", default="bench", help="cargo profile of the floor (default: bench)")
    args = ap.parse_args()
    if args.runs < 1:
        sys.exit("--runs must be at least 1")
    for b in args.binary:
        if not os.access(b, os.X_OK):
            sys.exit(f"not an executable: {b}")
    floor = None if args.no_floor else build_floor(args.floor_profile)
    given = list(args.binary) + ([floor] if floor else [])
    names_given = {b: os.path.basename(b) + (" (floor)" if b == floor else "") for b in given}
    # Every binary runs from a fresh copy in one temporary directory: how a file came into the
    # page cache changes how its pages fault in. Measured here: one hello-world binary read
    # 16.8 ms to init where the linker wrote it and 10.0-10.5 ms as two copies of it in the
    # same run (and 0.3 MiB less RSS), so a floor left in its target dir looked slower than
    # functions copied elsewhere. Copies make the comparison the same for all.
    scratch = tempfile.mkdtemp(prefix="coldstart-")
    atexit.register(shutil.rmtree, scratch, True)
    binaries, names = [], {}
    for i, b in enumerate(given):
        copy = os.path.join(scratch, f"{i}-{os.path.basename(b)}")
        shutil.copy2(b, copy)
        binaries.append(copy)
        names[copy] = names_given[b]
    floor = binaries[-1] if floor else None
    for b in binaries:
        one_run(b)  # warm the page cache
    results: dict[str, list[tuple[float, float, int, int]]] = {b: [] for b in binaries}
    order = list(binaries)
    shuffle = random.Random(16)
    for _ in range(args.runs):
        # In turns, so that load on the machine hits every binary alike; in a new order each
        # turn, and after a pause, so that no binary always follows the same one: the process
        # just killed (its exit, its stub's threads) slows whichever start comes next, which
        # made a fixed last place (the floor's) read 1.5-2x slower than the same binary first.
        shuffle.shuffle(order)
        for b in order:
            time.sleep(args.settle_ms / 1000)
            results[b].append(one_run(b))

    def line(name: str, xs: list[float]) -> str:
        return f"{name:<16} min {min(xs):7.2f} ms   median {statistics.median(xs):7.2f} ms   max {max(xs):7.2f} ms"

    for b in binaries:
        inits, firsts = [r[0] for r in results[b]], [r[1] for r in results[b]]
        print(f"{names[b]}: {args.runs} cold starts ({os.path.getsize(b) / 1e6:.1f} MB binary)")
        print(line("init", inits))
        print(line("first response", firsts))
    print()
    head = "| binary | size | status | init median (min) | first response median (min) |"
    sep = "|---|---|---|---|---|"
    if floor:
        head += " first response ÷ floor: median of per-run ratios | ratio of the minima |"
        sep += "---|---|"
    print(head + " peak RSS (median) |")
    print(sep + "---|")
    for b in binaries:
        rs = results[b]
        inits, firsts = [r[0] for r in rs], [r[1] for r in rs]
        rss = statistics.median(r[2] for r in rs) / 1024
        status = "/".join(sorted({str(r[3]) for r in rs}))
        row = (f"| {names[b]} | {os.path.getsize(b) / 1e6:.1f} MB | {status} | "
               f"{statistics.median(inits):.2f} ms ({min(inits):.2f}) | "
               f"{statistics.median(firsts):.2f} ms ({min(firsts):.2f}) |")
        if floor:
            ratios = [r[1] / f[1] for r, f in zip(rs, results[floor])]
            floor_min = min(f[1] for f in results[floor])
            row += f" {statistics.median(ratios):.2f}× | {min(firsts) / floor_min:.2f}× |"
        print(row + f" {rss:.1f} MiB |")


if __name__ == "__main__":
    main()
