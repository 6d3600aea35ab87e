#!/usr/bin/env bash
# Every route of the contract over HTTP against the real local stack (infra/smoke.py).
#   bash infra/smoke.sh     # a stack already up (bash infra/up.sh): checks that one;
#                           # else starts one on free ports, checks it, stops it
# Env: SMOKE_UP_TIMEOUT_SECONDS (1800: a cold start compiles every function).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
LOCAL=infra/.local
mkdir -p "$LOCAL"

running_up() { # the pid of a live up.sh recorded in $LOCAL/pids, if any
  [ -s "$LOCAL/pids" ] || return 1
  local name pid _
  while read -r name pid _; do
    if [ "$name" = up ] && kill -0 "$pid" 2>/dev/null && grep -qa 'up.sh' "/proc/$pid/cmdline" 2>/dev/null; then
      echo "$pid"
      return 0
    fi
  done < "$LOCAL/pids"
  return 1
}

if running_up > /dev/null; then
  for _ in $(seq 1800); do [ -s "$LOCAL/dev.env" ] && break; sleep 1; done
  exec python3 infra/smoke.py
fi

read -r api_port watch_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
log=$LOCAL/smoke-up.log
echo "starting a stack for the smoke run (API on $api_port, log $log)" >&2
API_PORT=$api_port WATCH_PORT=$watch_port setsid bash infra/up.sh > "$log" 2>&1 < /dev/null &
up=$!
stop() {
  kill -TERM "$up" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$up" 2>/dev/null || break; sleep 0.1; done
  bash infra/down.sh > /dev/null 2>&1 || true
}
trap stop EXIT

deadline=$((SECONDS + ${SMOKE_UP_TIMEOUT_SECONDS:-1800}))
until [ -s "$LOCAL/dev.env" ]; do
  if ! kill -0 "$up" 2>/dev/null; then
    tail -n 40 "$log" >&2
    echo "the stack did not come up (log: $log)" >&2
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    tail -n 40 "$log" >&2
    echo "the stack was not up within ${SMOKE_UP_TIMEOUT_SECONDS:-1800} s (log: $log)" >&2
    exit 1
  fi
  sleep 1
done
echo "stack up after ${SECONDS} s" >&2
python3 infra/smoke.py
