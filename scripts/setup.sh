#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs everything tao-ocrnet needs on a fresh Debian machine: system fonts (for the synthetic
# data generator) and the Python package with its test extras. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # shellcheck disable=SC2046
  $SUDO apt-get install -y -qq --no-install-recommends $(grep -v '^\s*#' .ci/apt-packages.txt) >/dev/null
fi

# torch first, pinned, so that pip takes the CPU wheel instead of resolving a CUDA build.
python -m pip install -q --disable-pip-version-check "torch==2.13.0"
python -m pip install -q --disable-pip-version-check -e ".[dev]"
# The bank's real AutoML runner, to load this skill the way the bank does (tests/test_skill_root_layout.py);
# without its heavy extras, which loading a skill does not use.
python -m pip install -q --disable-pip-version-check --no-deps "nvidia-tao-sdk==7.2.0" "nvidia-tao-automl==7.2.0"
# Node 22 and the official MCP conformance suite from npm (tests/test_mcp_conformance.py), fetched here so the
# tests download nothing.
bash scripts/conformance.sh install
