#!/usr/bin/env bash
# Stop a local stack: bash infra/down.sh
# Asks a running infra/up.sh to stop (it cleans up after itself); then stops whatever a stack
# killed hard left behind, using the process groups recorded in infra/.local/pids.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
LOCAL=infra/.local
PIDS=$LOCAL/pids
log() { printf '%s [down] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ ! -s "$PIDS" ]; then
  log "no stack recorded in $PIDS"
  rm -f "$LOCAL/dev.env"
  exit 0
fi

# leader_is PID MATCH: the process is alive and its command line contains MATCH
leader_is() { kill -0 "$1" 2>/dev/null && grep -qaF -- "$2" "/proc/$1/cmdline" 2>/dev/null; }
group_alive() { pgrep -g "$1" > /dev/null 2>&1; }

# 1. a live up.sh: SIGTERM it and give its trap time to stop its children
while read -r name pid match; do
  [ "$name" = up ] || continue
  if leader_is "$pid" "$match"; then
    log "stopping up.sh (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
done < "$PIDS"

# 2. leftovers: groups whose leader still runs what we started (or that lost their leader but
#    still have members, e.g. function processes of a killed cargo lambda watch)
[ -s "$PIDS" ] || { log "stopped"; exit 0; }
groups=()
while read -r name pid match; do
  [ "$name" = up ] && continue
  if leader_is "$pid" "$match" || { ! kill -0 "$pid" 2>/dev/null && group_alive "$pid"; }; then
    log "stopping $name (process group $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || true
    groups+=("$pid")
  fi
done < "$PIDS"
for _ in $(seq 50); do
  alive=0
  for pg in "${groups[@]}"; do group_alive "$pg" && alive=1; done
  [ "$alive" = 0 ] && break
  sleep 0.1
done
for pg in "${groups[@]}"; do kill -KILL -- "-$pg" 2>/dev/null || true; done
rm -f "$PIDS" "$LOCAL/dev.env" "$LOCAL/lifeline"
log "stopped"
