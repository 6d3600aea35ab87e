#!/usr/bin/env bash
# Fire a function's schedule now against the running local stack: bash infra/fire.sh <bin> [<event name>]
set -euo pipefail
exec python3 "$(dirname "$0")/stack/schedule.py" fire "$@"
