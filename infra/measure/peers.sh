#!/usr/bin/env bash
# Our webhook verification against the providers' own libraries, on the same bytes, in one run.
#
#     bash infra/measure/peers.sh              # ~1-2 min once the peers and our example are built
#     PEERS_N=50000 bash infra/measure/peers.sh
#     PEERS_OURS=/tmp/peer_verify_before bash infra/measure/peers.sh   # time a copy built earlier
#
# 1. Installs the peers into infra/.local/peers/ (git-ignored), pinned by
#    infra/measure/peers/{package.json,package-lock.json,requirements.txt}: npm `stripe` and
#    `standardwebhooks` (npm ci), PyPI `stripe` into a venv. Reinstalled only when a pin changes.
# 2. Builds our side: `cargo build --profile bench -p inbound-receiver --example peer_verify`
#    (the bench profile, as the criterion benches; release without LTO).
# 3. For each side, in turn (never in parallel: 2 shared cores), signs the same body file,
#    infra/measure/peers/stripe_event.json (the ~3 KiB Stripe customer.subscription.updated
#    event our benches use, `shared_testkit::provider_events::STRIPE_EVENT`), with Python's hmac:
#    a Stripe-Signature header and the Standard Webhooks trio, timestamped now (signed again
#    before each side so no side runs past Standard Webhooks' fixed 5-minute tolerance). Then
#    the side checks once that it accepts the signature, warms up, and times PEERS_ROUNDS (5)
#    rounds of PEERS_N (20,000) calls in-process, reporting the median ns/op:
#      ours     Rust: receive::verify + mapping::parse_head (Stripe; Standard Webhooks), verify alone
#      node     stripe webhooks.constructEvent; standardwebhooks Webhook.verify; crypto HMAC
#      python   stripe Webhook.construct_event; hmac.digest
#      openssl  `openssl speed -hmac sha256` at the Stripe-signed message's length: the floor
# 4. Prints the table: ours vs each peer (targets: ≥ 7× Node constructEvent, ≥ 7× Node
#    standardwebhooks) and ours vs the HMAC floor. Raw results: infra/.local/peers/results.jsonl.
# Every step is bounded by `timeout` (PEERS_TIMEOUT, 600 s); nothing is left running.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
SRC="$ROOT/infra/measure/peers"
LOCAL="$ROOT/infra/.local/peers"
N="${PEERS_N:-20000}"
ROUNDS="${PEERS_ROUNDS:-5}"
STEP_TIMEOUT="${PEERS_TIMEOUT:-600}"
BODY="$SRC/stripe_event.json"

die() { echo "peers.sh: $*" >&2; exit 1; }
for tool in cargo node npm python3 openssl timeout sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found (node/npm: apt-get install nodejs npm)"
done
node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' \
  || die "Node >= 20 needed (npm stripe requires it), found $(node --version)"
[ -s "$BODY" ] || die "missing $BODY"
mkdir -p "$LOCAL"
started=$(date +%s)

# --- 1. peers -------------------------------------------------------------------------------
stamp() { cat "$@" | sha256sum | cut -d' ' -f1; }
node_stamp=$(stamp "$SRC/package.json" "$SRC/package-lock.json")
if [ "$(cat "$LOCAL/node/.stamp" 2>/dev/null || true)" != "$node_stamp" ]; then
  echo "peers.sh: installing npm stripe + standardwebhooks into $LOCAL/node ..." >&2
  rm -rf "$LOCAL/node"
  mkdir -p "$LOCAL/node"
  cp "$SRC/package.json" "$SRC/package-lock.json" "$LOCAL/node/"
  (cd "$LOCAL/node" && timeout "$STEP_TIMEOUT" npm ci --no-audit --no-fund --loglevel=error >&2) \
    || die "npm ci failed"
  echo "$node_stamp" >"$LOCAL/node/.stamp"
fi
py_stamp=$(stamp "$SRC/requirements.txt")
if [ "$(cat "$LOCAL/venv/.stamp" 2>/dev/null || true)" != "$py_stamp" ]; then
  echo "peers.sh: installing PyPI stripe into $LOCAL/venv ..." >&2
  rm -rf "$LOCAL/venv"
  python3 -m venv "$LOCAL/venv" || die "python3 -m venv failed (apt-get install python3-venv)"
  timeout "$STEP_TIMEOUT" "$LOCAL/venv/bin/pip" install -q --disable-pip-version-check -r "$SRC/requirements.txt" >&2 \
    || die "pip install failed"
  echo "$py_stamp" >"$LOCAL/venv/.stamp"
fi

# --- 2. ours ---------------------------------------------------------------------------------
if [ -n "${PEERS_OURS:-}" ]; then
  OURS="$PEERS_OURS"                                  # a binary built before (e.g. a baseline copy)
else
  echo "peers.sh: building our side (cargo, bench profile) ..." >&2
  timeout "$STEP_TIMEOUT" cargo build -q --profile bench -p inbound-receiver --example peer_verify >&2 \
    || die "cargo build of the peer_verify example failed"
  OURS="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/peer_verify"
fi
[ -x "$OURS" ] || die "no binary at $OURS"

# --- 3. one run ------------------------------------------------------------------------------
RESULTS="$LOCAL/results.jsonl"
INPUT="$LOCAL/input.json"
: >"$RESULTS"
side() {
  local name="$1"; shift
  python3 "$SRC/peers.py" sign --body "$BODY" --out "$INPUT" --iterations "$N" --rounds "$ROUNDS"
  echo "peers.sh: $name ..." >&2
  local t0; t0=$(date +%s)
  timeout "$STEP_TIMEOUT" "$@" "$INPUT" >>"$RESULTS" || die "$name failed or timed out"
  echo "peers.sh: $name done in $(($(date +%s) - t0)) s" >&2
}
side "ours (Rust)" "$OURS"
side "node (stripe, standardwebhooks)" env NODE_PATH="$LOCAL/node/node_modules" node "$SRC/peers.js"
side "python (stripe)" "$LOCAL/venv/bin/python" "$SRC/peers.py" bench
side "openssl speed (HMAC floor)" python3 "$SRC/peers.py" openssl

# --- 4. table --------------------------------------------------------------------------------
cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "peers: $(date -u +%F), $(nproc) cores ($cpu), $(node --version), $("$LOCAL/venv/bin/python" --version), whole run $(($(date +%s) - started)) s"
echo
python3 "$SRC/peers.py" report "$RESULTS" --body-bytes "$(stat -c %s "$BODY")" --iterations "$N" --rounds "$ROUNDS"
