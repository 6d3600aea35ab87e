#!/usr/bin/env python3
"""Call every function of template.yaml once through its real entry, so `cargo lambda watch`
has compiled and started each before the stack reports itself up.

- GET /api/health through the gateway until it answers 200;
- one request to each other HTTP function through the gateway (any answer from the function
  counts, 401 included; a gateway error or timeout does not);
- an empty SQS event {"Records":[]} to each SQS consumer, a Scheduled Event to each schedule
  function, `{}` to a function with no events, all through the Invoke API.

Env: API_URL, WATCH_PORT, WARMUP_TIMEOUT_SECONDS (default 900: a cold build takes minutes).
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
import urllib.error
import urllib.request

import samtemplate as st
from schedule import scheduled_event
from stackutil import invoke, logger, watch_port

log = logger("warmup")
API_URL = os.environ.get("API_URL", "http://127.0.0.1:3000").rstrip("/")
DEADLINE = time.monotonic() + float(os.environ.get("WARMUP_TIMEOUT_SECONDS", 900))


def http(method: str, path: str, body: bytes | None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(API_URL + path, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=130) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def until(what: str, attempt) -> None:
    """Retry attempt() (returns None when done, else a reason) until the deadline."""
    last = None
    while True:
        try:
            reason = attempt()
        except OSError as e:
            reason = repr(e)
        if reason is None:
            return
        if reason != last:
            log(f"{what}: waiting ({reason})")
            last = reason
        if time.monotonic() > DEADLINE:
            sys.exit(f"warm-up gave up on {what}: {reason}")
        time.sleep(2)


def warm_http(binary: str, routes: list[st.HttpRoute], health: bool) -> None:
    if health:
        route = next(r for r in routes if r.path == "/api/health")
    else:
        # prefer a GET: it never changes anything; any unauthenticated call is rejected early
        route = sorted(routes, key=lambda r: (r.method != "GET", r.path))[0]
    path = re.sub(r"\{[^}]+\}", "warmup", route.path)
    method = "GET" if route.method == "ANY" else route.method
    body = b"{}" if method in ("POST", "PUT", "PATCH") else None

    def attempt():
        status, headers, data = http(method, path, body)
        if "x-local-gateway-error" in headers:
            return f"{status} {headers['x-local-gateway-error']}"
        if health and status != 200:
            return f"{status} {data[:200]!r}"
        log(f"{binary}: {method} {path} -> {status}")
        return None

    until(f"{binary} ({method} {path})", attempt)


def warm_invoke(binary: str, payload: bytes, what: str) -> None:
    port = watch_port()

    def attempt():
        result = invoke(port, binary, payload, 130)
        if result.status == 404:
            return f"watch does not know {binary} yet: {result.body[:200]!r}"
        if not result.ok:
            # the function ran: it is warm; say what it answered
            log(f"WARNING {binary} answered the {what} with an error: {result.status} {result.body[:300]!r}")
        else:
            log(f"{binary}: {what} -> {result.body[:200].decode(errors='replace')}")
        return None

    until(f"{binary} ({what})", attempt)


def main() -> None:
    t = st.load()
    routes = st.http_routes(t)
    by_bin: dict[str, list[st.HttpRoute]] = {}
    for r in routes:
        by_bin.setdefault(r.binary, []).append(r)
    health_bin = next((r.binary for r in routes if r.path == "/api/health" and r.method in ("GET", "ANY")), None)
    if health_bin is None:
        sys.exit("template.yaml has no GET /api/health route")
    warm_http(health_bin, by_bin[health_bin], health=True)
    for binary, rs in by_bin.items():
        if binary != health_bin:
            warm_http(binary, rs, health=False)
    for src in st.sqs_sources(t):
        warm_invoke(src.binary, json.dumps({"Records": []}).encode(), "empty SQS event")
    for s in st.schedules(t):
        warm_invoke(s.binary, scheduled_event(s), f"scheduled event {s.name}")
    for fn in st.functions(t):
        if not fn.events:
            warm_invoke(fn.binary, b"{}", "empty event")
    log("every function answered")


if __name__ == "__main__":
    main()
