#!/usr/bin/env python3
"""Python side and bookkeeping of the peer comparison (driven by infra/measure/peers.sh).

    peers.py sign    --body stripe_event.json --out input.json [--iterations N --rounds 5]
    peers.py bench   input.json     # Python stripe's Webhook.construct_event + hmac.digest
    peers.py openssl input.json     # `openssl speed -hmac sha256` over the Stripe-signed length
    peers.py report  results.jsonl  # the markdown table, ratios and targets

`sign` signs the body file's bytes with Python's hmac module (independently of our Rust code):
a Stripe-Signature header and the Standard Webhooks trio, timestamped now. Every side reads
the same body file and input.json, checks once that it accepts the signature, warms up, then
times `rounds` rounds of `iterations` calls in-process and prints one JSON line per case with
the median ns/op (Python's construct_event, ~1 ms a call, runs 1/20 of the calls). Only the
standard library is needed, except `bench` (stripe from PyPI).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import platform
import statistics
import subprocess
import sys
import time

STRIPE_SECRET = "whsec_bench_0123456789abcdefghij"  # shared_testkit::provider_events::STRIPE_SECRET
STANDARD_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"  # fixtures::STANDARD_SECRET (DESIGN §5)
STANDARD_MSG_ID = "msg_2mBenchAbCdEfGhIjKlMnOpQrS"  # fixtures::STANDARD_MSG_ID

# Targets of issue 16: ours at least this many times faster than the peer.
TARGETS = {"stripe_verify_parse": 7.0, "standard_verify_parse": 7.0}


def cmd_sign(args: argparse.Namespace) -> None:
    body_file = os.path.abspath(args.body)
    with open(body_file, "rb") as f:
        body = f.read()
    event = json.loads(body)
    t = str(int(time.time()))
    v1 = hmac.new(STRIPE_SECRET.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    key = base64.b64decode(STANDARD_SECRET.removeprefix("whsec_"))
    sw = base64.b64encode(
        hmac.new(key, f"{STANDARD_MSG_ID}.{t}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    out = {
        "body_file": body_file,
        "body_bytes": len(body),
        "event_id": event["id"],
        "event_type": event["type"],
        "iterations": args.iterations,
        "warmup": max(args.iterations // 5, 1),
        # Python's construct_event builds a StripeObject tree (~1 ms a call): 1/20 of the calls.
        "iterations_slow": max(args.iterations // 20, 50),
        "rounds": args.rounds,
        "stripe": {"secret": STRIPE_SECRET, "timestamp": t, "header": f"t={t},v1={v1}"},
        "standard": {"secret": STANDARD_SECRET, "id": STANDARD_MSG_ID, "timestamp": t, "signature": f"v1,{sw}"},
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


def timed(inp: dict, side: str, impl: str, case: str, fn, iterations: int | None = None) -> None:
    n = iterations or inp["iterations"]
    for _ in range(max(n // 5, 1)):
        fn()
    per_op = []
    for _ in range(inp["rounds"]):
        start = time.perf_counter_ns()
        for _ in range(n):
            fn()
        per_op.append((time.perf_counter_ns() - start) / n)
    per_op.sort()
    print(json.dumps({"side": side, "impl": impl, "case": case, "ns_per_op": statistics.median(per_op),
                      "rounds_ns": per_op, "iterations": n}), flush=True)


def load(path: str) -> tuple[dict, bytes]:
    with open(path) as f:
        inp = json.load(f)
    with open(inp["body_file"], "rb") as f:
        return inp, f.read()


def cmd_bench(args: argparse.Namespace) -> None:
    import stripe  # from the venv peers.sh made

    inp, body = load(args.input)
    header, secret = inp["stripe"]["header"], inp["stripe"]["secret"]

    def construct():
        return stripe.Webhook.construct_event(body, header, secret)

    ev = construct()
    if ev.id != inp["event_id"] or ev.type != inp["event_type"]:
        sys.exit("peers.py: construct_event did not return the event")
    message = inp["stripe"]["timestamp"].encode() + b"." + body
    key = secret.encode()

    def mac():
        return hmac.digest(key, message, "sha256")

    if f"v1={mac().hex()}" not in header:
        sys.exit("peers.py: hmac.digest differs from the signature")
    py = f"Python {platform.python_version()}"
    timed(inp, "python", f"{py} stripe {stripe.VERSION} Webhook.construct_event", "stripe_verify_parse", construct,
          iterations=inp["iterations_slow"])
    timed(inp, "python", f"{py} hmac.digest (OpenSSL), per call", "hmac_floor", mac)


def cmd_openssl(args: argparse.Namespace) -> None:
    """`openssl speed` HMAC-SHA256 over buffers of the Stripe-signed message's length, wall
    clock: the floor (one HMAC per call, no parsing, no header)."""
    inp, body = load(args.input)
    length = len(inp["stripe"]["timestamp"]) + 1 + len(body)
    version = subprocess.run(["openssl", "version"], capture_output=True, text=True, check=True).stdout.split()[1]
    per_op = []
    for _ in range(inp["rounds"]):
        out = subprocess.run(
            ["openssl", "speed", "-mr", "-elapsed", "-seconds", "1", "-bytes", str(length), "-hmac", "sha256"],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout
        rates = [float(line.rsplit(":", 1)[1]) for line in out.splitlines() if line.startswith("+F:")]
        if not rates or rates[-1] <= 0:
            sys.exit(f"peers.py: no rate in openssl speed output: {out[-500:]!r}")
        per_op.append(length / rates[-1] * 1e9)
    per_op.sort()
    print(json.dumps({"side": "openssl", "impl": f"OpenSSL {version} speed -hmac sha256 -bytes {length}",
                      "case": "hmac_floor", "ns_per_op": statistics.median(per_op), "rounds_ns": per_op}), flush=True)


def fmt_ns(ns: float) -> str:
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def cmd_report(args: argparse.Namespace) -> None:
    rows = []
    with open(args.results) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                rows.append(json.loads(line))
    get = lambda side, case: next((r for r in rows if r["side"] == side and r["case"] == case), None)  # noqa: E731
    ours_stripe, ours_std = get("ours", "stripe_verify_parse"), get("ours", "standard_verify_parse")
    floor = get("openssl", "hmac_floor")
    missing = [n for n, r in [("ours stripe", ours_stripe), ("ours standard", ours_std), ("openssl", floor)] if r is None]
    if missing:
        sys.exit(f"peers.py report: missing results: {', '.join(missing)}")
    print(f"Body: {args.body_bytes} bytes (Stripe customer.subscription.updated), median of {args.rounds} rounds "
          f"of {args.iterations} calls per case (Python construct_event: {max(args.iterations // 20, 50)}), one run.\n")
    print("| case | implementation | ns/op (median) | ours faster by | target | met |")
    print("|---|---|---|---|---|---|")
    verdicts = []
    for case, ours in [("stripe_verify_parse", ours_stripe), ("standard_verify_parse", ours_std)]:
        label = {"stripe_verify_parse": "Stripe verify + parse", "standard_verify_parse": "Standard Webhooks verify + parse"}[case]
        print(f"| {label} | **{ours['impl']}** | **{fmt_ns(ours['ns_per_op'])}** | — | | |")
        for r in rows:
            if r["case"] != case or r["side"] == "ours":
                continue
            ratio = r["ns_per_op"] / ours["ns_per_op"]
            target = TARGETS.get(case) if r["side"] == "node" else None
            met = "" if target is None else ("yes" if ratio >= target else "**no**")
            if target is not None:
                verdicts.append((f"{label} vs {r['impl']}", ratio, target, ratio >= target))
            print(f"| {label} | {r['impl']} | {fmt_ns(r['ns_per_op'])} | {ratio:.2f}× | "
                  f"{'≥ %g×' % target if target else ''} | {met} |")
    stripe_verify = get("ours", "stripe_verify")
    print(f"| HMAC-SHA256 floor | {floor['impl']} | {fmt_ns(floor['ns_per_op'])} | — | | |")
    for r in rows:
        if r["case"] == "hmac_floor" and r["side"] != "openssl":
            print(f"| HMAC-SHA256 floor | {r['impl']} | {fmt_ns(r['ns_per_op'])} | — | | |")
    print()
    print("| ours vs the HMAC floor (OpenSSL) | ours | floor | ours / floor |")
    print("|---|---|---|---|")
    for label, r in [("Stripe verify only", stripe_verify), ("Stripe verify + parse", ours_stripe),
                     ("Standard Webhooks verify + parse", ours_std)]:
        if r is not None:
            print(f"| {label} | {fmt_ns(r['ns_per_op'])} | {fmt_ns(floor['ns_per_op'])} | "
                  f"{r['ns_per_op'] / floor['ns_per_op']:.2f}× |")
    print()
    for what, ratio, target, ok in verdicts:
        print(f"target {'MET' if ok else 'NOT MET'}: {what}: {ratio:.2f}× (target ≥ {target:g}×)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sign")
    s.add_argument("--body", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--iterations", type=int, default=20000)
    s.add_argument("--rounds", type=int, default=5)
    s.set_defaults(fn=cmd_sign)
    for name, fn in [("bench", cmd_bench), ("openssl", cmd_openssl)]:
        p = sub.add_parser(name)
        p.add_argument("input")
        p.set_defaults(fn=fn)
    r = sub.add_parser("report")
    r.add_argument("results")
    r.add_argument("--body-bytes", type=int, required=True)
    r.add_argument("--iterations", type=int, required=True)
    r.add_argument("--rounds", type=int, required=True)
    r.set_defaults(fn=cmd_report)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
