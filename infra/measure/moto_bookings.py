#!/usr/bin/env python3
"""Booking-shaped TransactWriteItems against the single-threaded DynamoDB moto, stock vs patched.

For each mode (stock: MOTO_STOCK_TRANSACTIONS=1, patched: the default), in the same run: starts
infra/stack/moto_server.py --single-threaded on a free loopback port, creates the table of
template.yaml (pk/sk, gsi1, gsi2, TTL) the way infra/stack/create_resources.py does, runs bookings on
the empty table, seeds --items items (every --big-every-th one a raw-inbound-event-sized item,
100 KiB to ~390 KB: moto refuses items over ~405 KB), then runs --bookings sequential bookings
and reports median/p99 latency, the ratio to the empty table, and the VmRSS of the moto process
(/proc/<pid>/status). With --endpoint it measures that moto instead (RSS only with --pid).

    python3 infra/measure/moto_bookings.py                      # 20,000 items, 200 bookings
    python3 infra/measure/moto_bookings.py --stock-bookings 40  # stock is slow at 20,000 items

Stock moto grows by ~15 MB per booking at 2,000 items, more at 20,000: each mode stops its
bookings once its process passes --rss-limit-mb (default 6,000) and reports how many it ran.

moto timings are same-run ratios only, never DynamoDB speed (DESIGN §7).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

STACK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "stack")
sys.path.insert(0, STACK)

TABLE = "booking-sync"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(port: int, stock: bool) -> subprocess.Popen:
    env = dict(os.environ)
    env.pop("MOTO_STOCK_TRANSACTIONS", None)
    if stock:
        env["MOTO_STOCK_TRANSACTIONS"] = "1"
    proc = subprocess.Popen(
        [sys.executable, os.path.join(STACK, "moto_server.py"), "--port", str(port), "--single-threaded", "--exit-on-stdin-eof"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2)
            return proc
        except urllib.error.HTTPError:
            return proc
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise
            time.sleep(0.1)


def client(endpoint: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, read_timeout=600),
    )


def create_table(ddb) -> str:
    """The table of template.yaml, created by create_resources (its name: booking-sync)."""
    import create_resources
    import samtemplate as st

    create_resources.log = lambda msg: None
    create_resources.create_tables(st.load(), ddb)
    return TABLE


def s(v: str) -> dict:
    return {"S": v}


def n(v: int) -> dict:
    return {"N": str(v)}


def put_exam(ddb, table: str, ws: str, exam: str, capacity: int) -> None:
    ddb.put_item(TableName=table, Item={
        "pk": s(f"WS#{ws}#EXAM#{exam}"), "sk": s("EXAM"), "id": s(exam), "name": s("Mock exam"),
        "capacity": n(capacity), "totalBookings": n(0), "version": n(0), "lastSyncedVersion": n(0),
        "gsi1pk": s(f"WS#{ws}#EXAMS"), "gsi1sk": s(exam), "createdAt": s("2026-01-01T00:00:00Z"),
    })


def booking_items(table: str, ws: str, exam: str, contact: str, booking: str, idem: str | None = None) -> list[dict]:
    """One booking as the Rust store writes it: counter Update + marker, booking, outbox (+ idempotency)."""
    now = "2026-01-01T00:00:00Z"
    cond = "attribute_not_exists(pk)"
    items = [
        {"Update": {
            "TableName": table, "Key": {"pk": s(f"WS#{ws}#EXAM#{exam}"), "sk": s("EXAM")},
            "UpdateExpression": "ADD #t :one, #v :one", "ConditionExpression": "attribute_exists(pk) AND #t < #c",
            "ExpressionAttributeNames": {"#t": "totalBookings", "#c": "capacity", "#v": "version"},
            "ExpressionAttributeValues": {":one": n(1)},
        }},
        {"Put": {"TableName": table, "ConditionExpression": cond, "Item": {
            "pk": s(f"WS#{ws}#EXAM#{exam}"), "sk": s(f"ACTIVE#{contact}"), "bookingId": s(booking),
        }}},
        {"Put": {"TableName": table, "ConditionExpression": cond, "Item": {
            "pk": s(f"WS#{ws}#BOOKING#{booking}"), "sk": s("BOOKING"), "id": s(booking), "workspaceId": s(ws),
            "mockExamId": s(exam), "contactId": s(contact), "status": s("active"), "createdAt": s(now),
            "markerSk": s(f"ACTIVE#{contact}"),
            "gsi2pk": s(f"WS#{ws}#CONTACT#{contact}#BOOKINGS"), "gsi2sk": s(booking),
        }}},
        {"Put": {"TableName": table, "ConditionExpression": cond, "Item": {
            "pk": s(f"OUTBOX#ob-{booking}"), "sk": s("OUTBOX"), "id": s(f"ob-{booking}"), "workspaceId": s(ws),
            "status": s("pending"), "createdAt": s(now), "events": s(json.dumps([{"type": "booking.created", "id": booking}])),
            "gsi1pk": s("OUTBOX#PENDING"), "gsi1sk": s(f"{now}#ob-{booking}"), "expires_at": n(1767225600 + 30 * 86400),
            "gsi2pk": s(f"WS#{ws}#USER#{contact}#OUTBOX"), "gsi2sk": s(f"ob-{booking}"),
        }}},
    ]
    if idem is not None:
        items.append({"Put": {"TableName": table, "ConditionExpression": cond, "Item": {
            "pk": s(f"WS#{ws}#IDEM#bookings#{idem}"), "sk": s("IDEM"), "response": s(json.dumps({"id": booking})),
            "expires_at": n(1767225600 + 86400),
        }}})
    return items


def seed(ddb, table: str, count: int, big_every: int, rng: random.Random) -> None:
    """count items spread like ours: bookings, outbox records, every big_every-th a raw inbound event."""
    batch: list[dict] = []
    for i in range(count):
        ws = f"w{i % 7}"
        if big_every and i % big_every == 0:
            size = rng.randint(100 * 1024, 390_000)
            item = {"pk": s(f"WS#{ws}#INBOUND#ev{i}"), "sk": s("RAW"), "raw": s("x" * size),
                    "gsi1pk": s(f"WS#{ws}#INBOUND"), "gsi1sk": s(f"2026-01-01T00:00:00Z#ev{i}"), "expires_at": n(1767225600)}
        elif i % 3:
            item = {"pk": s(f"WS#{ws}#BOOKING#seed{i}"), "sk": s("BOOKING"), "id": s(f"seed{i}"), "status": s("active"),
                    "mockExamId": s(f"exam{i % 50}"), "contactId": s(f"c{i}"), "note": s("n" * rng.randint(50, 2000)),
                    "gsi2pk": s(f"WS#{ws}#CONTACT#c{i}#BOOKINGS"), "gsi2sk": s(f"seed{i}")}
        else:
            item = {"pk": s(f"OUTBOX#seed{i}"), "sk": s("OUTBOX"), "status": s("delivered"),
                    "events": s(json.dumps([{"type": "booking.created", "n": i}] * rng.randint(1, 20))), "expires_at": n(1767225600)}
        batch.append({"PutRequest": {"Item": item}})
        if len(batch) == 25 or i == count - 1:
            ddb.batch_write_item(RequestItems={table: batch})
            batch = []


def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


def book(ddb, table: str, ws: str, exam: str, count: int, tag: str, pid: int | None = None, rss_limit_mb: float = 0) -> list[float]:
    """count sequential bookings (fewer if the moto process passes rss_limit_mb): their latencies."""
    out = []
    for i in range(count):
        if rss_limit_mb and (rss_mb(pid) or 0) > rss_limit_mb:
            log(f"stopped after {i} bookings: moto RSS {rss_mb(pid):.0f} MB > {rss_limit_mb:.0f} MB")
            break
        items = booking_items(table, ws, exam, f"{tag}c{i}", f"{tag}b{i}", idem=f"{tag}k{i}" if i % 2 else None)
        t = time.perf_counter()
        ddb.transact_write_items(TransactItems=items)
        out.append(time.perf_counter() - t)
    return out


def p99(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.99 * (len(xs) - 1))))]


def measure(endpoint: str, pid: int | None, items: int, bookings: int, empty_bookings: int, big_every: int,
            rss_limit_mb: float = 0) -> dict:
    ddb = client(endpoint)
    table = create_table(ddb)
    put_exam(ddb, table, "w1", "empty", empty_bookings + 1)
    put_exam(ddb, table, "w1", "full", bookings + 1)
    r: dict = {"items": items, "bookings": bookings, "rss_start_mb": rss_mb(pid)}
    empty = book(ddb, table, "w1", "empty", empty_bookings, "e")
    t = time.monotonic()
    seed(ddb, table, items, big_every, random.Random(7))
    r["seed_s"] = round(time.monotonic() - t, 1)
    r["rss_after_seed_mb"] = rss_mb(pid)
    t = time.monotonic()
    full = book(ddb, table, "w1", "full", bookings, "f", pid, rss_limit_mb)
    r["bookings_s"] = round(time.monotonic() - t, 1)
    r["bookings_done"] = len(full)
    r["rss_after_bookings_mb"] = rss_mb(pid)
    exam = ddb.get_item(TableName=table, Key={"pk": s("WS#w1#EXAM#full"), "sk": s("EXAM")})["Item"]
    assert exam["totalBookings"] == n(len(full)), exam
    r.update({
        "empty_median_ms": statistics.median(empty) * 1000,
        "full_median_ms": statistics.median(full) * 1000,
        "full_p99_ms": p99(full) * 1000,
        "ratio_full_vs_empty": statistics.median(full) / statistics.median(empty),
    })
    if pid is not None:
        r["rss_growth_bookings_mb"] = r["rss_after_bookings_mb"] - r["rss_after_seed_mb"]
    return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=20000)
    ap.add_argument("--bookings", type=int, default=200, help="sequential bookings on the seeded table (patched)")
    ap.add_argument("--stock-bookings", type=int, help="the same for stock moto (default: --bookings; 0 skips stock)")
    ap.add_argument("--empty-bookings", type=int, default=50, help="bookings on the empty table (the ratio's base)")
    ap.add_argument("--big-every", type=int, default=100, help="every n-th seeded item is 100 KiB-390 KB (0: none)")
    ap.add_argument("--rss-limit-mb", type=float, default=6000,
                    help="stop a mode's bookings once its moto passes this RSS (stock grows fast; 0: no limit)")
    ap.add_argument("--endpoint", help="measure this moto instead of starting two")
    ap.add_argument("--pid", type=int, help="with --endpoint: the moto process, for RSS")
    a = ap.parse_args()

    if a.endpoint:
        print(json.dumps(measure(a.endpoint, a.pid, a.items, a.bookings, a.empty_bookings, a.big_every, a.rss_limit_mb), indent=1))
        return
    stock_bookings = a.bookings if a.stock_bookings is None else a.stock_bookings
    results = {}
    for mode, count in (("stock", stock_bookings), ("patched", a.bookings)):
        if count <= 0:
            continue
        port = free_port()
        proc = start_moto(port, stock=mode == "stock")
        try:
            log(f"{mode}: moto pid {proc.pid} on 127.0.0.1:{port}, {a.items} items, {count} bookings")
            results[mode] = measure(
                f"http://127.0.0.1:{port}", proc.pid, a.items, count, a.empty_bookings, a.big_every, a.rss_limit_mb
            )
            log(f"{mode}: {json.dumps(results[mode])}")
        finally:
            proc.stdin.close()
            proc.wait(30)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
