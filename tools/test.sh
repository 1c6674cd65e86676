#!/usr/bin/env bash
# The whole test run: lint, package tests (unit + node tests with real rclpy) through
# colcon, then the system tests under tests/. Fails on the first failing stage.
set -eo pipefail  # not -u: colcon's setup.bash reads unset variables
cd "$(dirname "$0")/.."
source tools/env.sh
echo "[test] 1/3 ruff"
ruff check .
echo "[test] 2/3 colcon test (package unit and node tests)"
# Sequential: node tests of two packages must not share a machine's DDS at the same time
# even with separate domains (2 cores; timing-sensitive lifecycle checks).
# compat packages the environment provides were not built (tools/setup.sh): skip them too.
mapfile -t skip < <(tools/compat_present.sh .venv/bin/python)
colcon --log-base log test --base-paths src --executor sequential ${skip[@]:+--packages-skip "${skip[@]}"} \
  --return-code-on-test-failure --event-handlers console_direct+ summary+ \
  --pytest-args -q
colcon --log-base log test-result --test-result-base build --verbose
echo "[test] 3/3 system tests (tests/)"
python -m pytest tests -q
