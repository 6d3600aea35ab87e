#!/usr/bin/env python3
"""An outage without data loss, against the running local stack: the DynamoDB emulator is
frozen (SIGSTOP) for --freeze seconds in the middle of a booking load, then thawed (SIGCONT).

    bash infra/up.sh                      # terminal 1, until infra/.local/dev.env exists
    python3 infra/measure/faults.py       # terminal 2: exits 1 when a check fails

Checks (issue 16 item 7):
- nothing hangs: every request ends (the client waits at most --client-timeout s; the gateway
  and the functions' own call timeouts end them first);
- every answer is 201, or an error in the JSON error shape — during the freeze `503 busy`
  (with Retry-After) or 504 from the gateway; never a 500;
- nothing is half-written: after the thaw, each exam's `totalBookings` equals the number of
  bookings listed for it (counter and items agree), and a booking the client was told about
  exists;
- queued work resumes: the HubSpot target (a loopback server) ends on each exam's count.

The freeze and thaw are always paired (a finally block), so the stack is never left frozen.
Standard library only.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import ThreadingHTTPServer

INFRA = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(INFRA, "checks"))
import smoke  # noqa: E402  (reads infra/.local/dev.env: the stack must be up)
from smoke import ENV, Target, http  # noqa: E402

FAILED: list[str] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f"  -- {detail}"), flush=True)
    if not ok:
        FAILED.append(name)


def dynamodb_pid() -> int:
    """The DynamoDB moto's pid, from the local stack's process list (infra/.local/pids)."""
    with open(os.path.join(INFRA, ".local", "pids")) as f:
        for line in f:
            name, pid, *_ = line.split()
            if name == "moto-dynamodb":
                return int(pid)
    sys.exit("moto-dynamodb is not in infra/.local/pids: is the stack up (bash infra/up.sh)?")


def listed_bookings(key: str, exam: str) -> int:
    n, cursor = 0, None
    while True:
        q = "limit=100&status=active" + (f"&cursor={cursor}" if cursor else "")
        r = http("GET", f"/api/mock-exams/{exam}/bookings?{q}", key)
        if r.status != 200:
            raise RuntimeError(f"list bookings of {exam}: {r!r}")
        n += len(r.json["bookings"])
        cursor = r.json["pagination"].get("nextCursor")
        if not cursor:
            return n


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--exams", type=int, default=10)
    p.add_argument("--before", type=float, default=5, help="seconds of load before the freeze")
    p.add_argument("--freeze", type=float, default=10)
    p.add_argument("--after", type=float, default=10, help="seconds of load after the thaw")
    p.add_argument("--client-timeout", type=float, default=60)
    p.add_argument("--settle", type=float, default=300)
    args = p.parse_args()
    pid = dynamodb_pid()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = f"http://127.0.0.1:{server.server_address[1]}"
    r = http("POST", "/api/workspaces", ENV["ROOT_API_KEY"], {"name": "faults"})
    if r.status != 201:
        print(f"could not create a workspace: {r!r}", file=sys.stderr)
        return 1
    key = r.json["apiKey"]
    http("PUT", "/api/integrations/hubspot", key, {"webhookUrl": f"{target}/hubspot", "retryAttempts": 5, "retryDelay": 2})
    exams = [f"fault-{i:02d}" for i in range(args.exams)]
    for e in exams:
        http("PUT", f"/api/mock-exams/{e}", key, {"name": e, "capacity": 100000})
    print(f"stack {smoke.API}, DynamoDB moto pid {pid}", flush=True)

    lock = threading.Lock()
    results: list[dict] = []
    stop = threading.Event()
    phase = {"now": "before"}

    def client(n: int) -> None:
        i = 0
        while not stop.is_set():
            exam = exams[(n + i) % len(exams)]
            t0 = time.perf_counter()
            try:
                resp = http("POST", "/api/bookings", key, {"mockExamId": exam, "contactId": f"f{n}-{i}"})
                status, body, headers = resp.status, resp.json, resp.headers
            except Exception as e:  # noqa: BLE001 - a client timeout is a hang: reported
                status, body, headers = 0, {"exception": repr(e)}, {}
            with lock:
                results.append({
                    "phase": phase["now"], "status": status, "body": body, "exam": exam,
                    "retry_after": headers.get("retry-after"), "seconds": time.perf_counter() - t0,
                })
            i += 1

    pool = ThreadPoolExecutor(args.clients)
    for n in range(args.clients):
        pool.submit(client, n)
    try:
        time.sleep(args.before)
        phase["now"] = "frozen"
        os.kill(pid, signal.SIGSTOP)
        print(f"DynamoDB frozen for {args.freeze:.0f} s", flush=True)
        time.sleep(args.freeze)
    finally:
        os.kill(pid, signal.SIGCONT)
        phase["now"] = "after"
        print("DynamoDB thawed", flush=True)
    time.sleep(args.after)
    stop.set()
    pool.shutdown(wait=True)

    by_phase: dict[str, dict[int, int]] = {}
    for x in results:
        d = by_phase.setdefault(x["phase"], {})
        d[x["status"]] = d.get(x["status"], 0) + 1
    print(json.dumps({"statuses_by_phase": by_phase}), flush=True)
    slowest = max((x["seconds"] for x in results), default=0)
    print(f"slowest answer {slowest:.1f} s", flush=True)
    check("every request ended (no client timeout)", all(x["status"] != 0 for x in results), str([x for x in results if x["status"] == 0][:2]))
    check("no 500 at any time", not any(x["status"] == 500 for x in results), str([x["body"] for x in results if x["status"] == 500][:2]))
    bad_shape = [x for x in results if x["status"] >= 400 and x["status"] != 504 and not (
        isinstance(x["body"], dict) and x["body"].get("success") is False and {"code", "message"} <= set(x["body"].get("error") or {}))]
    check("every error answer has the JSON error shape", not bad_shape, str(bad_shape[:2]))
    busy = [x for x in results if x["status"] == 503]
    check("busy answers carry Retry-After", all(x["retry_after"] for x in busy), str(busy[:1]))
    check("bookings succeed again after the thaw", by_phase.get("after", {}).get(201, 0) > 0, str(by_phase.get("after")))

    def counters_agree():
        off = []
        for e in exams:
            total = http("GET", f"/api/mock-exams/{e}", key).json["mockExam"]["totalBookings"]
            listed = listed_bookings(key, e)
            if total != listed:
                off.append((e, total, listed))
        return off

    off = counters_agree()
    check("each exam's counter equals its listed bookings (nothing half-written)", not off, str(off[:3]))
    told = [x["body"]["booking"]["id"] for x in results if x["status"] == 201]
    missing = [b for b in told[:: max(1, len(told) // 50)] if http("GET", f"/api/bookings/{b}", key).status != 200]
    check("bookings the clients were told about exist (a sample of 50)", not missing, str(missing[:3]))

    deadline = time.monotonic() + args.settle
    last_off = None
    while time.monotonic() < deadline:
        last: dict[str, int] = {}
        for call in Target.on("/hubspot"):
            body = json.loads(call["body"])
            last[str(body.get("mock_exam_id"))] = body.get("total_bookings")
        totals = {e: http("GET", f"/api/mock-exams/{e}", key).json["mockExam"]["totalBookings"] for e in exams}
        last_off = [(e, last.get(e), totals[e]) for e in exams if last.get(e) != totals[e]]
        if not last_off:
            break
        time.sleep(2)
    check("queued work resumed: HubSpot ends on each exam's count", not last_off, str((last_off or [])[:3]))
    server.shutdown()
    print("\nall checks passed" if not FAILED else f"\n{len(FAILED)} checks failed: {FAILED}")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
