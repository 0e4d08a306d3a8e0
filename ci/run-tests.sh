#!/usr/bin/env bash
# orbitlink CI: the whole test suite on the embedded broker, then the live-broker tests again on
# Apache Kafka 4.x. Called by .ci/run; runnable by hand from any directory.
#
#   ci/run-tests.sh                      everything (pass 1: all tests; pass 2: -m kafka)
#   ci/run-tests.sh tests/stream         limit both passes to these pytest paths/args
#
# Lint and pass 1 are what `make test` runs (ruff, then pytest with pyproject's settings; the
# stream tests start one embedded Tansu broker themselves), less the `own_kafka` tests, which
# start an Apache Kafka of their own and so run in pass 2. Pass 2 starts a single-node KRaft Kafka with ci/kafka.sh and
# reruns only `kafka`-marked tests with ORBITLINK_TEST_BROKER pointing at it, then stops it (also
# on failure or interrupt). A failing pass 1 stops the run (no Kafka pass).
#
# The last line printed is the total over both passes, "ci: N passed, N failed, N skipped".
# Exit status: non-zero when setup fails, any test fails, or a pass collects no test at all
# (pytest exit code 5 is a failure here, not "nothing to do").
# Environment: ORBITLINK_CI_SKIP_KAFKA=1 skips pass 2 (local use only; CI must run it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
PY="${ROOT}/.venv/bin/python"
REPORT_DIR="${ROOT}/.ci-cache/reports"
KAFKA_STARTED=0

step() { printf '\n==> %s\n' "$*"; }

summary() {
  # Totals from the JUnit reports of the passes that ran.
  python3 - "${REPORT_DIR}" <<'PY' || true
import sys, pathlib, xml.etree.ElementTree as ET
totals = dict(tests=0, failures=0, errors=0, skipped=0)
for path in sorted(pathlib.Path(sys.argv[1]).glob("pass*.xml")):
    root = ET.parse(path).getroot()
    for suite in ([root] if root.tag == "testsuite" else root.iter("testsuite")):
        for key in totals:
            totals[key] += int(suite.get(key, 0))
passed = totals["tests"] - totals["failures"] - totals["errors"] - totals["skipped"]
print(f"ci: {passed} passed, {totals['failures'] + totals['errors']} failed, {totals['skipped']} skipped")
PY
}

on_exit() {
  local status=$?
  if (( KAFKA_STARTED )); then
    ci/kafka.sh stop || true
  fi
  summary
  exit "${status}"
}
trap on_exit EXIT

run_pytest() {
  # run_pytest LABEL REPORT ARGS...: pytest with a JUnit report; "collected nothing" (5) fails.
  local label="$1" report="$2"; shift 2
  local status=0
  "${PY}" -m pytest --junitxml="${REPORT_DIR}/${report}.xml" "$@" || status=$?
  if (( status == 5 )); then
    echo "ci: ${label}: pytest collected no tests: failing" >&2
  elif (( status != 0 )); then
    echo "ci: ${label}: pytest exited with ${status}" >&2
  fi
  return "${status}"
}

rm -rf "${REPORT_DIR}"
mkdir -p "${REPORT_DIR}"

step "setup (make setup: venv + pip install -e '.[test,bench]')"
make setup

step "lint (make lint: ruff format --check, ruff check)"
make lint

step "pass 1: tests on the embedded Tansu broker"
# Tests that start an Apache Kafka of their own (TLS, SASL, persistence) or need Apache Kafka
# as the broker run in pass 2, where the jars are fetched; here they would only be skipped.
run_pytest "pass 1 (embedded broker)" pass1-embedded -m "not own_kafka and not apache_kafka" "$@"

if [[ "${ORBITLINK_CI_SKIP_KAFKA:-0}" == "1" ]]; then
  step "pass 2 skipped (ORBITLINK_CI_SKIP_KAFKA=1)"
  exit 0
fi

step "pass 2: live-broker tests on Apache Kafka 4.x"
KAFKA_STARTED=1
bootstrap="$(ci/kafka.sh start)"
echo "ci: Apache Kafka at ${bootstrap}"
status=0
ORBITLINK_TEST_BROKER="kafka://${bootstrap}" ORBITLINK_TEST_BROKER_KIND=kafka \
  run_pytest "pass 2 (Apache Kafka)" pass2-kafka -m kafka "$@" || status=$?
if (( status != 0 )); then
  echo "----- Apache Kafka log tail -----" >&2
  ci/kafka.sh logs 60 >&2 || true
fi
exit "${status}"
