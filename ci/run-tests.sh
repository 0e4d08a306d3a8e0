#!/usr/bin/env bash
# orbitlink CI: the whole test suite on the embedded broker, then the live-broker tests again on
# Apache Kafka 4.x. Called by .ci/run; runnable by hand from any directory.
#
#   ci/run-tests.sh                      everything (pass 1: all tests; pass 2: -m kafka)
#   ci/run-tests.sh tests/stream         limit both passes to these pytest paths/args
#
# Pass 1 is what `make test` runs (pytest with pyproject's settings; stream tests start one
# embedded Tansu broker themselves). Pass 2 starts a single-node KRaft Kafka with ci/kafka.sh and
# reruns only `kafka`-marked tests with ORBITLINK_TEST_BROKER pointing at it, then stops it (also
# on failure or interrupt).
#
# Exit status: non-zero when setup fails, any test fails, or a pass collects no test at all
# (pytest exit code 5 is a failure here, not "nothing to do").
# Environment: ORBITLINK_CI_SKIP_KAFKA=1 skips pass 2 (local use only; CI must run it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
PY="${ROOT}/.venv/bin/python"

step() { printf '\n==> %s\n' "$*"; }

run_pytest() {
  # Runs pytest, turns "collected nothing" (5) into a failure, returns pytest's status.
  local label="$1"; shift
  local status=0
  "${PY}" -m pytest "$@" || status=$?
  if (( status == 5 )); then
    echo "ci: ${label}: pytest collected no tests: failing" >&2
  elif (( status != 0 )); then
    echo "ci: ${label}: pytest exited with ${status}" >&2
  fi
  return "${status}"
}

step "setup (make setup: venv + pip install -e '.[test,bench]')"
make setup

step "pass 1: tests on the embedded Tansu broker"
run_pytest "pass 1 (embedded broker)" "$@"

if [[ "${ORBITLINK_CI_SKIP_KAFKA:-0}" == "1" ]]; then
  step "pass 2 skipped (ORBITLINK_CI_SKIP_KAFKA=1)"
  exit 0
fi

step "pass 2: live-broker tests on Apache Kafka 4.x"
trap 'ci/kafka.sh stop || true' EXIT
bootstrap="$(ci/kafka.sh start)"
echo "ci: Apache Kafka at ${bootstrap}"
status=0
ORBITLINK_TEST_BROKER="kafka://${bootstrap}" ORBITLINK_TEST_BROKER_KIND=kafka \
  run_pytest "pass 2 (Apache Kafka)" -m kafka "$@" || status=$?
if (( status != 0 )); then
  echo "----- Apache Kafka log tail -----" >&2
  ci/kafka.sh logs 60 >&2 || true
fi
exit "${status}"
