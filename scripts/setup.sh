#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine: Prometheus, Alertmanager, VictoriaMetrics and Chromium
# from apt, and a .venv with obsctl and its test tools. Idempotent; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v prometheus >/dev/null || need_apt+=(prometheus)
command -v prometheus-alertmanager >/dev/null || need_apt+=(prometheus-alertmanager)
command -v chromium >/dev/null || need_apt+=(chromium)
# The central store `obsctl demo --clusters N` remote-writes into (docs/demo.md).
command -v victoria-metrics >/dev/null || need_apt+=(victoria-metrics)
if ((${#need_apt[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${need_apt[*]} with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import observability, pytest" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.installed ]; then
  echo "setup: installing obsctl and test tools into .venv"
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -e '.[dev]'
  touch .venv/.installed
fi
echo "setup: ready (.venv/bin/obsctl)"
