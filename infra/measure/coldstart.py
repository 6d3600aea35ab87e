#!/usr/bin/env python3
"""Cold start of a function binary against a stub of the Lambda Runtime API.

    cargo build --profile bench -p workspaces-api --bin workspaces-api
    python3 infra/measure/coldstart.py target/release/workspaces-api --runs 20

Each run starts the binary afresh (as Lambda does for a new execution environment) with a
Runtime API stub on a loopback port, hands it one API Gateway HTTP API (v2) event for
`GET /api/health`, and measures from process start to:
  - init: its first `GET …/invocation/next` (config parsed, AWS SDK clients built, router ready);
  - first response: the `POST …/response` of that event.
Prints min / median / max in milliseconds. Nothing is sent over the network but loopback (the
AWS endpoints point at a closed port: the health route touches no AWS service).
Not a Lambda measurement (no Firecracker, no image download): it isolates our own init cost.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
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


class Runtime(BaseHTTPRequestHandler):
    """One event per process: the second `next` blocks until the run ends."""

    marks: dict[str, float] = {}
    done = threading.Event()
    response: bytes = b""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        if not self.path.endswith("/invocation/next"):
            self.send_error(404)
            return
        if "next" in Runtime.marks:
            Runtime.done.wait(10)
            self.send_error(410)
            return
        Runtime.marks["next"] = time.monotonic()
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
        Runtime.marks.setdefault("response" if self.path.endswith("/response") else "error", time.monotonic())
        Runtime.response = data
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        Runtime.done.set()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def one_run(binary: str) -> tuple[float, float]:
    Runtime.marks, Runtime.done, Runtime.response = {}, threading.Event(), b""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
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
        if not Runtime.done.wait(30):
            err = proc.stderr.read(2000) if proc.poll() is not None else b""
            sys.exit(f"no response within 30 s (exit {proc.poll()}): {err!r}")
        if "response" not in Runtime.marks or b'"statusCode":200' not in Runtime.response.replace(b" ", b""):
            sys.exit(f"unexpected answer: {Runtime.response[:300]!r}")
        return (Runtime.marks["next"] - started) * 1000, (Runtime.marks["response"] - started) * 1000
    finally:
        proc.kill()
        proc.wait()
        server.shutdown()
        server.server_close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    one_run(args.binary)  # warm the page cache
    inits, firsts = [], []
    for _ in range(args.runs):
        i, f = one_run(args.binary)
        inits.append(i)
        firsts.append(f)

    def line(name: str, xs: list[float]) -> str:
        return f"{name:<16} min {min(xs):7.2f} ms   median {statistics.median(xs):7.2f} ms   max {max(xs):7.2f} ms"

    print(f"{os.path.basename(args.binary)}: {args.runs} cold starts ({os.path.getsize(args.binary) / 1e6:.1f} MB binary)")
    print(line("init", inits))
    print(line("first response", firsts))


if __name__ == "__main__":
    main()
