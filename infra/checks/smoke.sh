#!/usr/bin/env bash
# Every route of the contract over HTTP against the real local stack (infra/checks/smoke.py),
# then the console in headless Chromium (tests/browser/test_console.py; SKIP_BROWSER=1 leaves
# it out).
#   bash infra/checks/smoke.sh  # a stack already up (bash infra/up.sh): checks that one;
#                               # else starts one on free ports, checks it, stops it
# Env: SMOKE_UP_TIMEOUT_SECONDS (1800: a cold start compiles every function).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
LOCAL=infra/.local
mkdir -p "$LOCAL"

# shellcheck source=infra/deps.sh
. infra/deps.sh

walk() {
  python3 infra/checks/smoke.py
  if [ "${SKIP_BROWSER:-}" != 1 ]; then
    echo "the console in headless Chromium (tests/browser/test_console.py)" >&2
    python3 tests/browser/test_console.py
  fi
}

if live_up_pid > /dev/null; then
  for _ in $(seq 1800); do [ -s "$LOCAL/dev.env" ] && break; sleep 1; done
  walk
  exit 0
fi

read -r api_port watch_port < <(free_loopback_ports 2)
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
walk
