#!/usr/bin/env bash
# Runs the criterion benches with a short measurement and prints ONE markdown table.
#
#     bash infra/measure/bench.sh            # ~6-8 min on 2 busy cores, plus the first build
#     BENCH_MEASURE=10 bash infra/measure/bench.sh   # longer, steadier
#
# Benches (cargo bench, bench profile: release without LTO), all over the in-memory fakes:
#   inbound-receiver  signatures     verify Stripe / Close / Standard Webhooks and sign an
#                                    outbound delivery at 1, 3, 64 KiB, each followed by
#                                    the bare HMAC-SHA256 floor over the same message
#   inbound-receiver  receive        Stripe verify + parse (3 KiB), the whole receiver route
#   bookings-api      create_booking a booking created in-process
#   delivery-worker   webhooks       deliveries to a loopback target (batch of 10 vs one by one)
#   inbound-worker    apply_records  the sync worker, batches of 10
#   reconcile         reconcile      1,000 exams in sync / all drifted
# Each runs with `-- --warm-up-time $BENCH_WARMUP --measurement-time $BENCH_MEASURE --noplot`
# (defaults 1 and 3 s; criterion extends a group when its samples need longer). Results go to
# a fresh $CARGO_TARGET_DIR/criterion-bench-sh (CRITERION_HOME), so the table only ever shows
# this run; the table reads each bench's new/estimates.json (median) and benchmark.json (bytes
# or records per iteration). Absolute times are indicative on a shared machine: read the ratio
# columns (measured in the same run). Logs: $CRITERION_HOME/logs/. Exits non-zero when a bench
# fails or a table row has no result.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
WARMUP="${BENCH_WARMUP:-1}"
MEASURE="${BENCH_MEASURE:-3}"
PER_BENCH_TIMEOUT="${BENCH_TIMEOUT:-900}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
export CRITERION_HOME="$TARGET/criterion-bench-sh"

for tool in cargo python3 timeout; do
  command -v "$tool" >/dev/null || { echo "bench.sh: $tool not found" >&2; exit 1; }
done

# crate:bench
BENCHES=(
  inbound-receiver:signatures
  inbound-receiver:receive
  bookings-api:create_booking
  delivery-worker:webhooks
  inbound-worker:apply_records
  reconcile:reconcile
)

rm -rf "$CRITERION_HOME"
mkdir -p "$CRITERION_HOME/logs"
started=$(date +%s)

build_args=()
for b in "${BENCHES[@]}"; do build_args+=(-p "${b%%:*}" --bench "${b##*:}"); done
echo "bench.sh: building (cargo bench --no-run) ..." >&2
if ! timeout "$PER_BENCH_TIMEOUT" cargo bench --no-run "${build_args[@]}" >"$CRITERION_HOME/logs/build.log" 2>&1; then
  tail -30 "$CRITERION_HOME/logs/build.log" >&2
  echo "bench.sh: build failed (log: $CRITERION_HOME/logs/build.log)" >&2
  exit 1
fi

failed=0
for b in "${BENCHES[@]}"; do
  crate="${b%%:*}" bench="${b##*:}"
  t0=$(date +%s)
  echo "bench.sh: $crate/$bench ..." >&2
  # timeout kills the whole process group (cargo and the bench binary) when it fires.
  if ! timeout "$PER_BENCH_TIMEOUT" cargo bench -q -p "$crate" --bench "$bench" -- \
      --warm-up-time "$WARMUP" --measurement-time "$MEASURE" --noplot \
      >"$CRITERION_HOME/logs/$crate-$bench.log" 2>&1; then
    echo "bench.sh: $crate/$bench FAILED (exit or timeout; log: $CRITERION_HOME/logs/$crate-$bench.log)" >&2
    tail -20 "$CRITERION_HOME/logs/$crate-$bench.log" >&2
    failed=1
  fi
  echo "bench.sh: $crate/$bench done in $(($(date +%s) - t0)) s" >&2
done
elapsed=$(($(date +%s) - started))

python3 - "$CRITERION_HOME" "$elapsed" "$WARMUP" "$MEASURE" <<'PY' || failed=1
import datetime, json, os, platform, subprocess, sys

home, elapsed, warmup, measure = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
missing = []

def load(path):
    """(median ns, bytes or None, elements or None) of a bench, or None."""
    d = os.path.join(home, path)
    try:
        with open(os.path.join(d, "new", "estimates.json")) as f:
            median = json.load(f)["median"]["point_estimate"]
        with open(os.path.join(d, "new", "benchmark.json")) as f:
            tp = json.load(f).get("throughput") or {}
    except (OSError, KeyError, ValueError):
        missing.append(path)
        return None
    return median, tp.get("Bytes"), tp.get("Elements")

def t(ns):
    if ns is None:
        return "—"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"

def size(b):
    return "" if not b else (f"{b / 1024:.1f} KiB ({b} B)" if b >= 1024 else f"{b} B")

rows = []  # (what, body, median, per unit, ratio column)

def row(what, path, floor=None, floor_note="", unit=None, ratio_of=None):
    r = load(path)
    if r is None:
        rows.append((what, "", "missing", "", ""))
        return None
    median, nbytes, elems = r
    per = ""
    if elems:
        per = f"{t(median / elems)} per {unit or 'item'}"
    elif nbytes:
        per = f"{nbytes / median * 1e3:.0f} MB/s"
    ratio = ""
    if floor:
        f = load(floor)
        if f is not None:
            ratio = f"{median / f[0]:.2f}× HMAC floor ({t(f[0])}){floor_note}"
    if ratio_of:
        other_label, other = ratio_of
        o = load(other)
        if o is not None:
            ratio = f"{o[0] / median:.2f}× the throughput of {other_label}"
    rows.append((what, size(nbytes), t(median), per, ratio))
    return median

for scheme, name, floor in [("stripe", "Stripe", "stripe"), ("close", "Close", "close"),
                            ("standard", "Standard Webhooks", "standard")]:
    for kib in (1, 3, 64):
        row(f"verify {name} {kib} KiB", f"verify_{scheme}/{kib}KiB", floor=f"verify_{scheme}/{kib}KiB_hmac_floor")
for kib in (1, 3, 64):
    row(f"sign an outbound delivery {kib} KiB (Standard Webhooks + legacy: 2 HMACs)",
        f"sign_delivery/{kib}KiB", floor=f"sign_delivery/{kib}KiB_hmac_floor")
row("sign an outbound delivery 3 KiB during a rotation (4 HMACs)", "sign_delivery/3KiB_during_rotation",
    floor="sign_delivery/3KiB_hmac_floor")
row("inbound Stripe verify + parse head, 3 KiB", "inbound/verify_and_parse_stripe_3KiB",
    floor="verify_stripe/3KiB_hmac_floor", floor_note=", floor from the signatures bench")
row("  of which verify", "inbound/verify_stripe_3KiB", floor="verify_stripe/3KiB_hmac_floor",
    floor_note=", floor from the signatures bench")
row("  of which parse head", "inbound/parse_head_stripe_3KiB",
    ratio_of=("the serde read", "inbound/parse_head_serde_stripe_3KiB"))
row("  the serde read it replaced (same run)", "inbound/parse_head_serde_stripe_3KiB")
row("inbound receive in-process (whole route over the fakes, 3 KiB Stripe event)",
    "receiver_handler_in_process_fake_store")
row("booking create in-process (route over the fakes)", "create_booking_in_process_fake_store")
row("one delivery to a loopback target (batch of 10)", "deliver_10_deliveries_loopback_target/one_batch_of_10",
    unit="delivery", ratio_of=("one at a time", "deliver_10_deliveries_loopback_target/one_at_a_time"))
row("one delivery to a loopback target (one at a time)", "deliver_10_deliveries_loopback_target/one_at_a_time",
    unit="delivery")
row("one delivery to a 20 ms target (batch of 10)", "deliver_10_deliveries_target_20ms/one_batch_of_10",
    unit="delivery", ratio_of=("one at a time", "deliver_10_deliveries_target_20ms/one_at_a_time"))
row("one delivery to a 20 ms target (one at a time)", "deliver_10_deliveries_target_20ms/one_at_a_time",
    unit="delivery")
row("sync worker, Stripe records (batch of 10)", "sync_worker/apply_stripe_records_batch_of_10_fake_store",
    unit="record")
row("reconcile, 1,000 exams in sync", "reconcile_1000_exams_fake_store/in_sync", unit="exam")
row("reconcile, 1,000 exams all drifted", "reconcile_1000_exams_fake_store/all_drifted", unit="exam")

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
print(f"criterion medians, {datetime.date.today()}, {os.cpu_count()} cores ({cpu}), {rustc}, commit {commit}, "
      f"warm-up {warmup} s, measurement {measure} s, bench profile; whole run {elapsed} s\n")
print("| what | body | median | per record / throughput | ratio (same run) |")
print("|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
if missing:
    print(f"\nbench.sh: no result for: {', '.join(sorted(set(missing)))}", file=sys.stderr)
    sys.exit(1)
PY

if [ "$failed" -ne 0 ]; then
  echo "bench.sh: some benches failed or gave no result (see above)" >&2
  exit 1
fi
