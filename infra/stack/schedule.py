#!/usr/bin/env python3
"""Local EventBridge schedules: template.yaml's Schedule events, fired at their rate.

  python3 infra/stack/schedule.py run [--exit-with-parent]   fire each rate(...) schedule every period
  python3 infra/stack/schedule.py fire <bin> [<event name>]  fire now (bash infra/fire.sh <bin>)
  python3 infra/stack/schedule.py list                       print the schedules

The function gets the Scheduled Event that EventBridge sends (or the event's Input, if set).
cron(...) schedules are not run locally; fire them by hand.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from datetime import datetime, timezone

import samtemplate as st
from stackutil import REGION, exit_with_parent, invoke, logger, watch_port

log = logger("schedule")


def scheduled_event(s: st.Schedule) -> bytes:
    if s.input is not None:
        return (s.input if isinstance(s.input, str) else json.dumps(s.input)).encode()
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": st.ACCOUNT,
        "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{st.ACCOUNT}:rule/local-{s.binary}-{s.name}"],
        "detail": {},
    }
    return json.dumps(event).encode()


def fire(s: st.Schedule, port: int, timeout: float = 900) -> bool:
    started = time.monotonic()
    try:
        result = invoke(port, s.binary, scheduled_event(s), timeout)
    except OSError as e:
        log(f"{s.binary}/{s.name}: invoke failed: {e!r}")
        return False
    ms = (time.monotonic() - started) * 1000
    body = result.body[:500].decode(errors="replace")
    log(f"{s.binary}/{s.name}: {'ok' if result.ok else 'FUNCTION ERROR'} {result.status} {body} ({ms:.0f}ms)")
    return result.ok


def run(schedules: list[st.Schedule], port: int) -> None:
    def loop(s: st.Schedule) -> None:
        log(f"{s.binary}/{s.name}: {s.expression}")
        next_at = time.monotonic() + s.interval_seconds
        while True:
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += s.interval_seconds
            fire(s, port)

    active = [s for s in schedules if s.enabled and s.interval_seconds]
    for s in schedules:
        if s not in active:
            log(f"{s.binary}/{s.name}: {s.expression} not run locally (disabled or not a rate); use fire")
    if not active:
        log("no rate schedules in the template")
    for s in active:
        threading.Thread(target=loop, args=(s,), daemon=True, name=s.name).start()
    threading.Event().wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--exit-with-parent", action="store_true")
    f = sub.add_parser("fire")
    f.add_argument("binary")
    f.add_argument("event", nargs="?")
    sub.add_parser("list")
    args = ap.parse_args()

    schedules = st.schedules(st.load())
    if args.cmd == "list":
        for s in schedules:
            print(f"{s.binary}\t{s.name}\t{s.expression}")
    elif args.cmd == "run":
        if args.exit_with_parent:
            exit_with_parent()
        run(schedules, watch_port())
    else:
        chosen = [s for s in schedules if s.binary == args.binary and args.event in (None, s.name)]
        if not chosen:
            known = ", ".join(f"{s.binary} {s.name}" for s in schedules) or "none"
            sys.exit(f"no schedule for {args.binary} {args.event or ''} in template.yaml (schedules: {known})")
        ok = all([fire(s, watch_port()) for s in chosen])
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
