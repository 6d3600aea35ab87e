#!/usr/bin/env bash
# Release builds of every function for Lambda (arm64, provided.al2023). NOT in CI: a cold
# build takes many minutes on 2 cores.
#   bash infra/build_release.sh          # cargo lambda build --release --arm64, every function
#   bash infra/build_release.sh --sam    # also sam validate --lint and sam build --beta-features
# Prints each bootstrap's size (target/lambda/<function>/bootstrap) and the elapsed time.
# Measured 2026-12-03 (2 cores): cargo lambda build 974 s for the 15 functions (deps built);
# bootstraps 2.4-9.1 MB stripped (bookings-api 7.4 MB), 1.2-4.6 MB gzipped: docs/performance.md §3.
# Deploy afterwards with: sam deploy --guided (parameters RootApiKey, PublicBaseUrl).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=infra/deps.sh
. infra/deps.sh
need_cargo_lambda
rustup target add aarch64-unknown-linux-gnu

bins=()
for manifest in functions/*/Cargo.toml; do
  bins+=("$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["package"]["name"])' "$manifest")")
done
bin_args=()
for b in "${bins[@]}"; do bin_args+=(--bin "$b"); done

started=$(date +%s)
echo "==> cargo lambda build --release --arm64 ${bin_args[*]}" >&2
cargo lambda build --release --arm64 "${bin_args[@]}"
built=$(date +%s)

echo
printf '%-20s %12s\n' function "bootstrap bytes"
for b in "${bins[@]}"; do
  f="target/lambda/$b/bootstrap"
  [ -f "$f" ] || { echo "missing $f" >&2; exit 1; }
  printf '%-20s %12s  (%s)\n' "$b" "$(stat -c %s "$f")" "$(du -h "$f" | cut -f1)"
done
echo "cargo lambda build: $((built - started)) s"

if [ "${1:-}" = "--sam" ]; then
  need_sam
  export SAM_CLI_TELEMETRY=0
  echo "==> sam validate --lint" >&2
  sam validate --lint
  echo "==> sam build --beta-features" >&2
  sam build --beta-features
  echo "sam build: $(($(date +%s) - built)) s (artifacts in .aws-sam/build)"
fi
