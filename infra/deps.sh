# shellcheck shell=bash
# Sourced (from the repository root) by the infra/*.sh commands, infra/checks/smoke.sh,
# infra/measure/scale_reconcile.sh and .ci/run: install what is missing, nothing else.
# A fresh machine has Rust (rustup), Python 3.11 and pip; the rest comes from PyPI.

_pip_install() {
  echo "installing $* (pip)" >&2
  python3 -m pip install --quiet --disable-pip-version-check "$@"
  if command -v pyenv > /dev/null 2>&1; then pyenv rehash || true; fi
}

need_moto() { # moto[server] (werkzeug app), boto3 and PyYAML for infra/*/*.py
  python3 -c 'import moto.moto_server.werkzeug_app, boto3, yaml' 2> /dev/null \
    || _pip_install "moto[server]>=5.1,<6" boto3 PyYAML
}

need_standardwebhooks() { # the stock Standard Webhooks library: tests verify our deliveries with it
  python3 -c 'import standardwebhooks' 2> /dev/null || _pip_install "standardwebhooks>=1.1,<2"
}

need_stripe() { # Stripe's own library: the inbound pipeline test signs events with it
  python3 -c 'import stripe' 2> /dev/null || _pip_install "stripe>=8,<17"
}

need_openapi_validator() { # openapi-spec-validator: infra/checks/check_openapi.py validates docs/openapi.json (OpenAPI 3.1)
  python3 -c 'import openapi_spec_validator' 2> /dev/null || _pip_install "openapi-spec-validator>=0.7,<1"
}

need_browser() { # headless Chromium + its driver (Debian) and selenium: the console's browser suite
  if ! { command -v chromium > /dev/null 2>&1 && command -v chromedriver > /dev/null 2>&1; }; then
    if command -v apt-get > /dev/null 2>&1; then
      local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
      $sudo apt-get update -qq > /dev/null 2>&1 || true
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver > /dev/null 2>&1 ||
        { echo "could not install chromium and chromium-driver (apt-get)" >&2; return 1; }
    else
      echo "chromium and chromedriver are needed for the console's browser suite" >&2; return 1
    fi
  fi
  python3 -c 'import selenium' 2> /dev/null || _pip_install "selenium>=4.20,<5"
}

need_cargo_lambda() {
  command -v cargo-lambda > /dev/null 2>&1 && return 0
  _pip_install "cargo-lambda>=1.9,<2"
  command -v cargo-lambda > /dev/null 2>&1 || { echo "cargo-lambda is installed but not on PATH" >&2; return 1; }
}

need_cfn_lint() {
  command -v cfn-lint > /dev/null 2>&1 && return 0
  _pip_install "cfn-lint>=1.51,<2"
  command -v cfn-lint > /dev/null 2>&1 || { echo "cfn-lint is installed but not on PATH" >&2; return 1; }
}

need_rust_components() { # rustfmt and clippy for the toolchain in use
  cargo fmt --version > /dev/null 2>&1 || rustup component add rustfmt
  cargo clippy --version > /dev/null 2>&1 || rustup component add clippy
}

# aws-sam-cli for `sam validate --lint` (CI) and `sam build --beta-features` (~2 min to install).
# It pins many packages (Flask, cfn-lint, boto3, ...), so it goes into its own virtualenv and only
# a `sam` link is put on PATH: moto's environment stays as it is.
SAM_HOME="${SAM_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/booking-sync/sam}"
need_sam() {
  if [ -x "$SAM_HOME/bin/sam" ]; then
    case ":$PATH:" in *":$SAM_HOME/bin:"*) ;; *) export PATH="$SAM_HOME/bin:$PATH" ;; esac
  fi
  command -v sam > /dev/null 2>&1 && return 0
  echo "installing aws-sam-cli into $SAM_HOME/venv" >&2
  if python3 -m venv "$SAM_HOME/venv" \
    && "$SAM_HOME/venv/bin/python" -m pip install --quiet --disable-pip-version-check "aws-sam-cli>=1.120,<2"; then
    mkdir -p "$SAM_HOME/bin"
    ln -sf "$SAM_HOME/venv/bin/sam" "$SAM_HOME/bin/sam"
    export PATH="$SAM_HOME/bin:$PATH"
  else
    echo "no virtualenv for aws-sam-cli: installing it next to moto" >&2
    _pip_install "aws-sam-cli>=1.120,<2"
  fi
  command -v sam > /dev/null 2>&1 || { echo "aws-sam-cli is installed but not on PATH" >&2; return 1; }
}

# The pid of a live infra/up.sh recorded in infra/.local/pids (run from the repository root);
# status 1 when there is none (no file, or the recorded process is gone or is something else).
live_up_pid() {
  local pids=infra/.local/pids pid=""
  [ -s "$pids" ] || return 1
  read -r _ pid _ < <(grep '^up ' "$pids" || true) || true
  [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null && grep -qa 'up.sh' "/proc/$pid/cmdline" 2> /dev/null || return 1
  echo "$pid"
}

# N distinct loopback ports free right now, on one line.
free_loopback_ports() {
  python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])' "$1"
}
