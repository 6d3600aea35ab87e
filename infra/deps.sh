# shellcheck shell=bash
# Sourced by infra/up.sh, infra/test.sh and .ci/run: install what is missing, nothing else.
# A fresh machine has Rust (rustup), Python 3.11 and pip; the rest comes from PyPI.

_pip_install() {
  echo "installing $* (pip)" >&2
  python3 -m pip install --quiet --disable-pip-version-check "$@"
  if command -v pyenv > /dev/null 2>&1; then pyenv rehash || true; fi
}

need_moto() { # moto[server] (werkzeug app), boto3 and PyYAML for infra/*.py
  python3 -c 'import moto.moto_server.werkzeug_app, boto3, yaml' 2> /dev/null \
    || _pip_install "moto[server]>=5.1,<6" boto3 PyYAML
}

need_standardwebhooks() { # the stock Standard Webhooks library: tests verify our deliveries with it
  python3 -c 'import standardwebhooks' 2> /dev/null || _pip_install "standardwebhooks>=1.1,<2"
}

need_stripe() { # Stripe's own library: the inbound pipeline test signs events with it
  python3 -c 'import stripe' 2> /dev/null || _pip_install "stripe>=8,<17"
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

need_sam() { # aws-sam-cli for `sam validate --lint` (CI) / `sam build --beta-features` (~2 min to install)
  command -v sam > /dev/null 2>&1 && return 0
  _pip_install "aws-sam-cli>=1.120,<2"
  command -v sam > /dev/null 2>&1 || { echo "aws-sam-cli is installed but not on PATH" >&2; return 1; }
}
