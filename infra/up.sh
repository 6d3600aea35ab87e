#!/usr/bin/env bash
# Local stack, in the foreground: bash infra/up.sh   (Ctrl-C stops everything it started)
#
# Two moto servers (DynamoDB single-threaded, SQS+S3 threaded), the template's table/queues/
# bucket, `cargo lambda watch` serving every bin, the local API gateway, the SQS pollers and
# the schedules; every function is called once, a dev workspace is created, and
# infra/.local/dev.env is written LAST: its presence means the whole stack is up and warm.
#
# Env (all optional): API_PORT (3000), WATCH_PORT (9000), DDB_PORT / SQS_PORT (free ports),
# ROOT_API_KEY (else generated once and kept in infra/.local/root_api_key), RUST_LOG (info),
# WARMUP_TIMEOUT_SECONDS (900), SQS_BATCH_WINDOW_SECONDS, SQS_POLLERS_PER_QUEUE.
# Logs: infra/.local/*.log.   A stack left behind (up.sh killed hard): bash infra/down.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
LOCAL=infra/.local
mkdir -p "$LOCAL"

log() { printf '%s [up] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=infra/deps.sh
. infra/deps.sh

# ---------------------------------------------------------------- a stack already here?
if [ -s "$LOCAL/pids" ]; then
  if other_up=$(live_up_pid); then
    die "a stack is already running (up.sh pid $other_up): stop it with Ctrl-C there or: bash infra/down.sh"
  fi
  log "cleaning up what a previous run left behind"
  bash infra/down.sh
fi
# Only now (a second up.sh refused above must not take a running stack's dev.env away).
rm -f "$LOCAL/dev.env"

# ---------------------------------------------------------------- tools
need_moto || die "cannot install moto"
need_cargo_lambda || die "cannot install cargo-lambda"

# ---------------------------------------------------------------- process bookkeeping
# Every child runs in its own session (setsid; its pid is its process group id), so Ctrl-C
# reaches only this script, and the trap stops each group with everything it spawned.
: > "$LOCAL/pids"
echo "up $$ up.sh" >> "$LOCAL/pids"
PGIDS=()
NAMES=()

# start NAME MATCH CMD...   (log: $LOCAL/NAME.log; MATCH: part of the leader's command line,
# so down.sh never signals a process that merely reuses a recorded pid)
start() {
  local name=$1 match=$2; shift 2
  setsid "$@" >> "$LOCAL/$name.log" 2>&1 < /dev/null 9>&- &
  track "$name" "$!" "$match"
}
track() {
  PGIDS+=("$2"); NAMES+=("$1")
  echo "$1 $2 $3" >> "$LOCAL/pids"
  log "$1 started (pid $2, log $LOCAL/$1.log)"
}

cleanup() {
  local rc=$?
  trap - INT TERM HUP EXIT
  rm -f "$LOCAL/dev.env"
  local i pg
  for ((i = ${#PGIDS[@]} - 1; i >= 0; i--)); do kill -TERM -- "-${PGIDS[i]}" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for pg in "${PGIDS[@]}"; do kill -0 -- "-$pg" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pg in "${PGIDS[@]}"; do kill -KILL -- "-$pg" 2>/dev/null || true; done
  rm -f "$LOCAL/pids" "$LOCAL/lifeline"
  log "stopped"
  exit "$rc"
}
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap cleanup EXIT

alive_or_die() { # INDEX (into PGIDS/NAMES)
  local name=${NAMES[$1]}
  kill -0 "${PGIDS[$1]}" 2>/dev/null \
    || { tail -n 30 "$LOCAL/$name.log" >&2 || true; die "$name exited (log: $LOCAL/$name.log)"; }
}

wait_http() { # INDEX URL SECONDS: until that process answers (any HTTP status)
  local i=$1 deadline=$((SECONDS + $3))
  until curl -s -o /dev/null -m 5 "$2"; do
    alive_or_die "$i"
    [ "$SECONDS" -lt "$deadline" ] || die "${NAMES[i]} did not answer on $2 within $3 s (log: $LOCAL/${NAMES[i]}.log)"
    sleep 0.2
  done
}
last() { echo $((${#PGIDS[@]} - 1)); }

port_free() { # like the servers will: SO_REUSEADDR, so a TIME_WAIT left by a previous run is fine
  python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()' "$1" 2>/dev/null
}

# ---------------------------------------------------------------- ports
read -r free1 free2 < <(free_loopback_ports 2)
DDB_PORT=${DDB_PORT:-$free1}
SQS_PORT=${SQS_PORT:-$free2}
WATCH_PORT=${WATCH_PORT:-9000}
API_PORT=${API_PORT:-3000}
for p in DDB_PORT SQS_PORT WATCH_PORT API_PORT; do
  port_free "${!p}" || die "port ${!p} ($p) is in use: another stack? (bash infra/down.sh) or set $p"
done

# ---------------------------------------------------------------- 1. moto
# The moto servers exit when this script's end of the lifeline pipe closes, even on kill -9.
rm -f "$LOCAL/lifeline"
mkfifo "$LOCAL/lifeline"
setsid python3 infra/stack/moto_server.py --port "$DDB_PORT" --single-threaded --exit-on-stdin-eof \
  < "$LOCAL/lifeline" >> "$LOCAL/moto-dynamodb.log" 2>&1 &
track moto-dynamodb "$!" moto_server.py
setsid python3 infra/stack/moto_server.py --port "$SQS_PORT" --exit-on-stdin-eof \
  < "$LOCAL/lifeline" >> "$LOCAL/moto-sqs.log" 2>&1 &
track moto-sqs "$!" moto_server.py
exec 9> "$LOCAL/lifeline"
rm -f "$LOCAL/lifeline"
log "moto: DynamoDB on $DDB_PORT (single-threaded), SQS+S3 on $SQS_PORT (threaded)"
wait_http 0 "http://127.0.0.1:$DDB_PORT/moto-api/" 60
wait_http 1 "http://127.0.0.1:$SQS_PORT/moto-api/" 60

# ---------------------------------------------------------------- 2. env for everything below
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DDB_PORT"
export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$SQS_PORT"
export AWS_ENDPOINT_URL_S3="http://127.0.0.1:$SQS_PORT"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export API_URL="http://127.0.0.1:$API_PORT" WATCH_PORT API_PORT
export PUBLIC_BASE_URL="$API_URL" ALLOW_PRIVATE_TARGETS=true RUST_LOG="${RUST_LOG:-info}"
# Backfills read the providers' event logs here: pass a local fake through (DESIGN §8).
export STRIPE_API_BASE="${STRIPE_API_BASE:-https://api.stripe.com}" CLOSE_API_BASE="${CLOSE_API_BASE:-https://api.close.com}"
# The single-threaded moto queues every table call: under a load script a call can wait
# seconds for its turn, which a real table never makes it do. Production: 3 s / 10 s.
export AWS_ATTEMPT_TIMEOUT_MS="${AWS_ATTEMPT_TIMEOUT_MS:-8000}" AWS_OPERATION_TIMEOUT_MS="${AWS_OPERATION_TIMEOUT_MS:-20000}"
if [ -z "${ROOT_API_KEY:-}" ]; then
  if [ ! -s "$LOCAL/root_api_key" ]; then
    (umask 077; python3 -c 'import secrets; print("rk_" + secrets.token_urlsafe(32))' > "$LOCAL/root_api_key")
  fi
  ROOT_API_KEY=$(cat "$LOCAL/root_api_key")
fi
export ROOT_API_KEY

# ---------------------------------------------------------------- 3. table, queues, bucket
python3 infra/stack/create_resources.py > "$LOCAL/resources.env" 2>> "$LOCAL/create_resources.log" \
  || { tail -n 30 "$LOCAL/create_resources.log" >&2; die "create_resources.py failed"; }
set -a
# shellcheck disable=SC1091
. "$LOCAL/resources.env"
set +a
log "resources: table $TABLE_NAME, bucket ${EXPORT_BUCKET:-}, queues: $(grep -c '_URL=' "$LOCAL/resources.env")"

# ---------------------------------------------------------------- 4. build, then watch
log "building every bin (cargo build --workspace --bins; minutes on a cold cache; log $LOCAL/build.log)"
cargo build --workspace --bins > "$LOCAL/build.log" 2>&1 9>&- \
  || { tail -n 40 "$LOCAL/build.log" >&2; die "cargo build failed"; }
# watch restarts functions on any file change under the workspace not ignored: keep our logs
# and scripts out of that even where .gitignore is not honoured (no .git directory).
printf '%s\n' '/infra/' '/template.yaml' '/.ci/' '*.md' '/docs/' '/tests/browser/' '__pycache__/' > "$LOCAL/watch.ignore"
export CARGO_LAMBDA_IGNORE_FILE="$PWD/$LOCAL/watch.ignore"
# --disable-cors: the HttpApi has no CorsConfiguration, so API Gateway adds no CORS headers.
start watch cargo-lambda cargo lambda watch -A 127.0.0.1 -P "$WATCH_PORT" --concurrency 8 --disable-cors
wait_http "$(last)" "http://127.0.0.1:$WATCH_PORT/" 120

# ---------------------------------------------------------------- 5. gateway, pollers, schedules
start gateway gateway.py python3 infra/stack/gateway.py --port "$API_PORT" --watch-port "$WATCH_PORT" --exit-with-parent
wait_http "$(last)" "$API_URL/" 30
start sqs-poller sqs_poller.py python3 infra/stack/sqs_poller.py --exit-with-parent
start schedule schedule.py python3 infra/stack/schedule.py run --exit-with-parent

# ---------------------------------------------------------------- 6. warm-up, dev workspace
log "warming up every function (log $LOCAL/warmup.log)"
python3 infra/stack/warmup.py 2>&1 9>&- | tee -a "$LOCAL/warmup.log" >&2 \
  || die "warm-up failed (logs: $LOCAL/watch.log, $LOCAL/gateway.log)"
python3 infra/stack/dev_workspace.py > "$LOCAL/workspace.env" 2>> "$LOCAL/warmup.log" 9>&- \
  || { tail -n 5 "$LOCAL/warmup.log" >&2; die "dev workspace creation failed"; }
set -a
# shellcheck disable=SC1091
. "$LOCAL/workspace.env"
set +a

# ---------------------------------------------------------------- 7. dev.env, last
{
  for v in API_URL API_KEY WORKSPACE_ID ROOT_API_KEY \
    AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_SQS AWS_ENDPOINT_URL_S3 \
    AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_DEFAULT_REGION AWS_EC2_METADATA_DISABLED \
    WATCH_PORT; do
    printf '%s=%q\n' "$v" "${!v}"
  done
  cat "$LOCAL/resources.env"
} > "$LOCAL/dev.env.tmp"
mv "$LOCAL/dev.env.tmp" "$LOCAL/dev.env"

cat >&2 <<EOF

  stack is up            API_URL=$API_URL   (workspace $WORKSPACE_ID)
  console                $API_URL/console   (sign in with API_KEY from $LOCAL/dev.env)
  env for tools/tests    set -a; . $LOCAL/dev.env; set +a
  lambda invoke API      http://127.0.0.1:$WATCH_PORT/2015-03-31/functions/<bin>/invocations
  logs                   $LOCAL/{watch,gateway,sqs-poller,schedule,moto-*}.log
  Ctrl-C stops everything.

EOF

# ---------------------------------------------------------------- 8. foreground until Ctrl-C
while true; do
  for i in "${!PGIDS[@]}"; do
    kill -0 "${PGIDS[i]}" 2>/dev/null || die "${NAMES[i]} exited unexpectedly (see $LOCAL/${NAMES[i]}.log)"
  done
  sleep 2 &
  wait $! || true
done
