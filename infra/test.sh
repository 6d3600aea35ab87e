#!/usr/bin/env bash
# All tests (README command 2): bash infra/test.sh
# Formatting, lints, the SAM template, the local-stack scripts, the Rust tests (which start
# their own moto servers; a running local stack does not disturb them), then every route over
# HTTP against the local stack (infra/checks/smoke.sh: the running one, else one it starts and stops).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=infra/deps.sh
. infra/deps.sh
need_rust_components
need_cfn_lint
need_moto
need_standardwebhooks
need_cargo_lambda
need_stripe
need_openapi_validator
[ "${SKIP_BROWSER:-}" = 1 ] || [ "${SKIP_SMOKE:-}" = 1 ] || need_browser

step() { printf '\n==> %s\n' "$*" >&2; }
step "cargo fmt --all --check"
cargo fmt --all --check
step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
step "cfn-lint template.yaml"
cfn-lint template.yaml
if [ -n "${CI:-}" ]; then need_sam; fi # locally: used when present (bash -c '. infra/deps.sh; need_sam')
if [ -x "$SAM_HOME/bin/sam" ]; then export PATH="$SAM_HOME/bin:$PATH"; fi
if command -v sam > /dev/null 2>&1; then
  step "sam validate --lint"
  SAM_CLI_TELEMETRY=0 sam validate --lint
elif [ -n "${CI:-}" ]; then
  echo "sam is missing: CI must run sam validate --lint (.ci/run installs it)" >&2
  exit 1
fi
step "python3 infra/checks/check_template.py"
python3 infra/checks/check_template.py
step "python3 infra/checks/check_openapi.py (docs/openapi.json vs template.yaml, valid OpenAPI 3.1)"
python3 infra/checks/check_openapi.py
step "infra scripts"
for f in infra/*.sh infra/*/*.sh .ci/run; do bash -n "$f"; done
python3 -m unittest discover -s infra/checks -p 'test_*.py'
step "cargo test --workspace"
cargo test --workspace
if [ -z "${SKIP_SMOKE:-}" ]; then # SKIP_SMOKE=1 leaves the HTTP walk out
  step "bash infra/checks/smoke.sh (every route over HTTP against the local stack)"
  bash infra/checks/smoke.sh
fi
step "all tests passed"
