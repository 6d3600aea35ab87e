#!/usr/bin/env python3
"""Bounded load against the running local stack (loopback only; stops by itself).

    bash infra/up.sh                       # terminal 1, until infra/.local/dev.env exists
    python3 infra/measure/load.py          # terminal 2: prints the report, exits 1 when a check fails

Part 1 — bookings: --exams exams (capacity large enough never to refuse), --bookings bookings
from --clients concurrent clients, and a cancel of every --cancel-every-th booking right after
it was made, all interleaved. Checks: each exam's `totalBookings` equals what the clients were
told (201s minus 200 cancels), and the HubSpot target (a loopback server here) ends on each
exam's count (the last `total_bookings` it received).

Part 2 — inbound: a Stripe sync job; --events distinct `customer.updated` events over
--objects customers (several versions each, distinct `created`), plus --dup-share of them sent
again, all shuffled and posted by --clients clients, signed like Stripe. Checks: the job stores
each distinct event once (stats `total`), nothing stays pending, and every customer's record is
at its newest version.

Reports per part: requests, throughput, p50/p99/max latency (client side, through the local
gateway and `cargo lambda watch`: indicative only, never a DynamoDB figure — DESIGN §7).
Standard library only.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "checks"))
import smoke  # noqa: E402  (reads infra/.local/dev.env: the stack must be up)
from smoke import ENV, Target, http  # noqa: E402

FAILED: list[str] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f"  -- {detail}"), flush=True)
    if not ok:
        FAILED.append(name)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def report(name: str, lat: list[float], wall: float, statuses: dict[int, int]) -> dict:
    row = {
        "part": name,
        "requests": len(lat),
        "seconds": round(wall, 2),
        "per_second": round(len(lat) / wall, 1) if wall else None,
        "p50_ms": round(pct(lat, 50) * 1000, 1),
        "p99_ms": round(pct(lat, 99) * 1000, 1),
        "max_ms": round(max(lat) * 1000, 1) if lat else None,
        "statuses": dict(sorted(statuses.items())),
    }
    print(json.dumps(row), flush=True)
    return row


def wait_for(name: str, probe, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = probe()
            if last is True:
                check(name, True)
                return True
        except Exception as e:  # noqa: BLE001 - reported below
            last = e
        time.sleep(1)
    check(name, False, f"not within {timeout:.0f} s (last: {last!r})")
    return False


def bookings_part(args, key: str, target: str) -> dict:
    r = http("PUT", "/api/integrations/hubspot", key, {"webhookUrl": f"{target}/hubspot", "retryAttempts": 3, "retryDelay": 1})
    check("HubSpot integration → loopback target", r.status == 200, repr(r))
    exams = [f"load-{i:03d}" for i in range(args.exams)]
    for e in exams:
        r = http("PUT", f"/api/mock-exams/{e}", key, {"name": e, "capacity": args.bookings})
        if r.status != 200:
            check(f"PUT exam {e}", False, repr(r))
    expected = {e: 0 for e in exams}
    lock = threading.Lock()
    lat: list[float] = []
    statuses: dict[int, int] = {}

    def timed(method: str, path: str, body=None):
        t0 = time.perf_counter()
        resp = http(method, path, key, body)
        dt = time.perf_counter() - t0
        with lock:
            lat.append(dt)
            statuses[resp.status] = statuses.get(resp.status, 0) + 1
        return resp

    def one(i: int) -> None:
        exam = exams[i % len(exams)]
        r = timed("POST", "/api/bookings", {"mockExamId": exam, "contactId": f"load-{i}"})
        if r.status != 201:
            return
        with lock:
            expected[exam] += 1
        if args.cancel_every and i % args.cancel_every == 0:
            c = timed("DELETE", f"/api/bookings/{r.json['booking']['id']}")
            if c.status == 200 and c.json["booking"]["status"] == "cancelled":
                with lock:
                    expected[exam] -= 1

    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        list(pool.map(one, range(args.bookings)))
    wall = time.perf_counter() - t0
    row = report("bookings+cancels", lat, wall, statuses)
    errors = sum(n for s, n in statuses.items() if s >= 500)
    check("no 5xx under load", errors == 0, str(statuses))
    wrong = []
    for e in exams:
        got = http("GET", f"/api/mock-exams/{e}", key).json["mockExam"]["totalBookings"]
        if got != expected[e]:
            wrong.append((e, got, expected[e]))
    check(f"every counter exact ({len(exams)} exams, {sum(expected.values())} bookings held)", not wrong, str(wrong[:5]))

    def hubspot_settled():
        last: dict[str, int] = {}
        for call in Target.on("/hubspot"):
            body = json.loads(call["body"])
            last[str(body.get("mock_exam_id") or body.get("mockExamId"))] = body.get("total_bookings")
        off = [(e, last.get(e), expected[e]) for e in exams if last.get(e) != expected[e]]
        return True if not off else off[:3]

    wait_for("HubSpot target ends on each exam's count", hubspot_settled, args.settle)
    return row


def stripe_signature(secret: str, body: bytes) -> str:
    ts = str(int(time.time()))
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def inbound_part(args, ws: str, key: str) -> dict:
    base = f"/api/workspaces/{ws}/sync-jobs"
    secret = "whsec_load_" + os.urandom(12).hex()
    r = http("POST", base, key, {"name": "load", "type": "webhook", "source": "stripe", "webhookConfig": {"signingSecret": secret}})
    check("Stripe sync job", r.status == 201, repr(r))
    job = r.json["syncJob"]["id"]
    rng = random.Random(args.seed)
    created0 = int(time.time()) - 3600
    versions = {f"cus_load{i:05d}": 0 for i in range(args.objects)}
    events = []
    for n in range(args.events):
        obj = f"cus_load{n % args.objects:05d}"
        versions[obj] += 1
        v = versions[obj]
        events.append({
            "id": f"evt_load_{n:06d}", "object": "event", "type": "customer.updated", "api_version": "2024-06-20",
            "created": created0 + v * 10, "livemode": False,
            "data": {"object": {"id": obj, "object": "customer", "email": f"{obj}@example.com", "name": f"v{v}"}},
        })
    sends = events + rng.sample(events, int(len(events) * args.dup_share))
    rng.shuffle(sends)
    lock = threading.Lock()
    lat: list[float] = []
    statuses: dict[int, int] = {}
    dup_answers = 0

    def one(ev: dict) -> None:
        nonlocal dup_answers
        body = json.dumps(ev).encode()
        t0 = time.perf_counter()
        resp = http("POST", f"/api/webhooks/{ws}/{job}", raw=body, headers={"Stripe-Signature": stripe_signature(secret, body)})
        dt = time.perf_counter() - t0
        with lock:
            lat.append(dt)
            statuses[resp.status] = statuses.get(resp.status, 0) + 1
            if resp.status == 200 and (resp.json or {}).get("duplicate"):
                dup_answers += 1

    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        list(pool.map(one, sends))
    wall = time.perf_counter() - t0
    row = report("inbound stripe (20 % duplicates, shuffled)", lat, wall, statuses)
    check("every send accepted (200)", statuses.get(200, 0) == len(sends), str(statuses))
    check("every repeat answered duplicate", dup_answers == len(sends) - len(events), f"{dup_answers} vs {len(sends) - len(events)}")

    def drained():
        s = http("GET", f"{base}/{job}/webhook/stats", key).json["stats"]
        done = s["total"] == len(events) and s["pending"] == 0
        return True if done else {k: s[k] for k in ("total", "pending", "processed", "skipped", "failed")}

    wait_for(f"each of {len(events)} distinct events stored once, none pending", drained, args.settle)
    stale = []
    for obj, v in versions.items():
        rec = http("GET", f"{base}/{job}/records/customer/{obj}", key)
        if rec.status != 200 or rec.json["record"].get("name") != f"v{v}":
            stale.append((obj, rec.status, (rec.json or {}).get("record", {}).get("name"), f"v{v}"))
    check(f"every record at its newest version ({len(versions)} customers)", not stale, str(stale[:5]))
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bookings", type=int, default=2000)
    p.add_argument("--exams", type=int, default=50)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--cancel-every", type=int, default=4, help="cancel every n-th booking (0: none)")
    p.add_argument("--events", type=int, default=2000)
    p.add_argument("--objects", type=int, default=200)
    p.add_argument("--dup-share", type=float, default=0.2)
    p.add_argument("--settle", type=float, default=600, help="seconds to wait for async work to settle")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--only", choices=["bookings", "inbound"])
    args = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = f"http://127.0.0.1:{server.server_address[1]}"
    r = http("POST", "/api/workspaces", ENV["ROOT_API_KEY"], {"name": "load"})
    if r.status != 201:
        print(f"could not create a workspace: {r!r}", file=sys.stderr)
        return 1
    ws, key = r.json["workspace"]["id"], r.json["apiKey"]
    print(f"stack {smoke.API}, workspace {ws}, target {target}", flush=True)
    rows = []
    if args.only in (None, "bookings"):
        rows.append(bookings_part(args, key, target))
    if args.only in (None, "inbound"):
        rows.append(inbound_part(args, ws, key))
    server.shutdown()
    print("\n| part | requests | seconds | req/s | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['part']} | {r['requests']} | {r['seconds']} | {r['per_second']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} |")
    print("\nall checks passed" if not FAILED else f"\n{len(FAILED)} checks failed: {FAILED}")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
