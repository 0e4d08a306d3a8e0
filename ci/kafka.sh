#!/usr/bin/env bash
# Apache Kafka 4.x, single-node KRaft (broker + controller in one JVM), on loopback, for CI.
#
# No Docker needed: the broker's jars come from Maven Central (ci/kafka-pom.xml) and are cached in
# .ci-cache/kafka/<version>/libs (gitignored). Java 17+ and Maven must be installed.
#
#   ci/kafka.sh fetch    download the jars (no-op when cached)
#   ci/kafka.sh start    fetch, configure, format storage, start in the background, wait until
#                        ready; prints ONLY the bootstrap address (127.0.0.1:PORT) on stdout,
#                        progress goes to stderr:  export ORBITLINK_TEST_BROKER=$(ci/kafka.sh start)
#   ci/kafka.sh stop     stop it (SIGTERM, then SIGKILL after 30 s) and delete its data
#                        (kept with KAFKA_PERSISTENT=1)
#   ci/kafka.sh status   print the bootstrap address and exit 0 when running, else exit 1
#   ci/kafka.sh logs     print the end of the broker log
#
# Settings (environment):
#   KAFKA_VERSION        Apache Kafka version on Maven Central (default 4.1.1)
#   KAFKA_PORT           client port (default: a free port); KAFKA_CONTROLLER_PORT likewise
#   KAFKA_STATE_DIR      where config, pid, logs and data live (default .ci-cache/kafka/run)
#   KAFKA_HEAP_OPTS      JVM heap (default -Xms256m -Xmx768m)
#   KAFKA_START_TIMEOUT  seconds to wait for readiness (default 180)
#   KAFKA_EXTRA_CONFIG   extra server.properties lines, e.g. 'auto.create.topics.enable=false'
#   KAFKA_FORMAT_ARGS    extra arguments of the storage format, e.g. SCRAM users:
#                        "--add-scram SCRAM-SHA-256=[name=u,password=p]"
#   KAFKA_PERSISTENT     1: a broker that keeps its data (`orbitlink broker --engine kafka`):
#                        start formats the storage only once and reuses its configuration
#                        (ports included), stop keeps the data
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
CACHE_DIR="${ROOT}/.ci-cache/kafka/${KAFKA_VERSION}"
LIBS_DIR="${CACHE_DIR}/libs"
STATE_DIR="${KAFKA_STATE_DIR:-${ROOT}/.ci-cache/kafka/run}"
PID_FILE="${STATE_DIR}/kafka.pid"
BOOTSTRAP_FILE="${STATE_DIR}/bootstrap"
LOG_DIR="${STATE_DIR}/logs"
DATA_DIR="${STATE_DIR}/data"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-180}"
PERSISTENT="${KAFKA_PERSISTENT:-0}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"

say() { echo "kafka.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

free_port() {
  # Ask the kernel for an unused loopback port (small race until the broker binds it).
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

java_cp() { echo "${LIBS_DIR}/*"; }

pom_digest() { sha256sum "${ROOT}/ci/kafka-pom.xml" | cut -d' ' -f1; }

fetch() {
  # The cache is complete for the dependency list it was fetched with (a changed POM refetches).
  if [[ -f "${CACHE_DIR}/.complete" && "$(cat "${CACHE_DIR}/.complete")" == "$(pom_digest)" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "Maven (mvn) is not installed"
  command -v java >/dev/null || die "Java is not installed"
  say "fetching Apache Kafka ${KAFKA_VERSION} jars from Maven Central into ${LIBS_DIR}"
  local started=$SECONDS
  rm -rf "${LIBS_DIR}"
  mkdir -p "${LIBS_DIR}"
  # -B: no colour/progress; the output directory must be absolute (Maven resolves it against
  # the POM's folder otherwise).
  if ! mvn -B -q -f "${ROOT}/ci/kafka-pom.xml" \
        -Dkafka.version="${KAFKA_VERSION}" \
        dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="${LIBS_DIR}" >"${CACHE_DIR}/mvn.log" 2>&1; then
    tail -n 40 "${CACHE_DIR}/mvn.log" >&2
    die "Maven could not fetch Kafka ${KAFKA_VERSION} (log: ${CACHE_DIR}/mvn.log)"
  fi
  [[ -f "${LIBS_DIR}/kafka_2.13-${KAFKA_VERSION}.jar" ]] || die "kafka_2.13-${KAFKA_VERSION}.jar missing after fetch"
  pom_digest >"${CACHE_DIR}/.complete"
  say "fetched $(ls "${LIBS_DIR}" | wc -l) jars in $((SECONDS - started)) s"
}

is_running() {
  [[ -f "${PID_FILE}" ]] || return 1
  local pid
  pid="$(cat "${PID_FILE}")"
  # Only our JVM counts: a recycled pid running something else must never be signalled.
  [[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null \
    && tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -q "kafka.Kafka ${STATE_DIR}/server.properties"
}

write_config() {
  local port="$1" controller_port="$2"
  mkdir -p "${LOG_DIR}" "${DATA_DIR}"
  cat >"${STATE_DIR}/server.properties" <<EOF
# Written by ci/kafka.sh: single-node KRaft for tests. Not a production configuration.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:${controller_port}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=${DATA_DIR}
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
# One broker: every internal topic has a single replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests start consumers and expect partitions at once, not after the 3 s default delay.
group.initial.rebalance.delay.ms=0
# Let tests use short consumer session timeouts (default minimum is 6 s already; keep it explicit).
group.consumer.min.session.timeout.ms=6000
group.min.session.timeout.ms=1000
log.retention.hours=24
log.segment.bytes=67108864
EOF
  if [[ -n "${KAFKA_EXTRA_CONFIG:-}" ]]; then
    printf '# From $KAFKA_EXTRA_CONFIG (a later line wins)\n%s\n' "${KAFKA_EXTRA_CONFIG}" \
      >>"${STATE_DIR}/server.properties"
  fi
  cat >"${STATE_DIR}/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${LOG_DIR}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.kafka_request.name = kafka.request.logger
logger.kafka_request.level = WARN
logger.state_change.name = state.change.logger
logger.state_change.level = WARN
EOF
}

start() {
  if is_running; then
    say "already running (pid $(cat "${PID_FILE}"))"
    cat "${BOOTSTRAP_FILE}"
    return 0
  fi
  command -v java >/dev/null || die "Java is not installed"
  fetch
  local started=$SECONDS
  local java_opts=(${HEAP_OPTS} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
                   -Dlog4j2.configurationFile="${STATE_DIR}/log4j2.properties"
                   -Dkafka.logs.dir="${LOG_DIR}")
  local port
  if [[ "${PERSISTENT}" == "1" && -f "${DATA_DIR}/meta.properties" ]]; then
    # A persistent broker comes back with its data and its configuration: the controller's
    # address is part of the formatted metadata, so the ports must not change.
    port="$(sed -n 's/^advertised.listeners=PLAINTEXT:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "${STATE_DIR}/server.properties")"
    say "reusing the data in ${DATA_DIR}"
  else
    if [[ "${PERSISTENT}" != "1" ]]; then rm -rf "${STATE_DIR}"; fi
    mkdir -p "${STATE_DIR}"
    port="${KAFKA_PORT:-$(free_port)}"
    local controller_port="${KAFKA_CONTROLLER_PORT:-$(free_port)}"
    while [[ "${controller_port}" == "${port}" ]]; do controller_port="$(free_port)"; done
    write_config "${port}" "${controller_port}"
    local cluster_id
    cluster_id="$(java -cp "$(java_cp)" "${java_opts[@]}" kafka.tools.StorageTool random-uuid)"
    say "formatting storage (cluster ${cluster_id}) in ${DATA_DIR}"
    # shellcheck disable=SC2086  # KAFKA_FORMAT_ARGS is a list of words
    java -cp "$(java_cp)" "${java_opts[@]}" kafka.tools.StorageTool format \
        -t "${cluster_id}" -c "${STATE_DIR}/server.properties" --standalone ${KAFKA_FORMAT_ARGS:-} \
        >"${LOG_DIR}/format.log" 2>&1 || { cat "${LOG_DIR}/format.log" >&2; die "storage format failed"; }
  fi
  mkdir -p "${LOG_DIR}"
  local log_lines=0
  [[ -f "${LOG_DIR}/server.log" ]] && log_lines="$(wc -l <"${LOG_DIR}/server.log")"

  say "starting Apache Kafka ${KAFKA_VERSION} on 127.0.0.1:${port}"
  # setsid: own session and process group, so the CI shell's signals and job control leave it
  # alone and `stop` can signal exactly this JVM.
  setsid java -cp "$(java_cp)" "${java_opts[@]}" kafka.Kafka "${STATE_DIR}/server.properties" \
      >"${LOG_DIR}/stdout.log" 2>&1 </dev/null &
  echo $! >"${PID_FILE}"

  local deadline=$((SECONDS + START_TIMEOUT))
  until tail -n "+$((log_lines + 1))" "${LOG_DIR}/server.log" 2>/dev/null | grep -q "Kafka Server started" \
        && (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; do
    if ! kill -0 "$(cat "${PID_FILE}")" 2>/dev/null; then
      tail -n 40 "${LOG_DIR}/stdout.log" "${LOG_DIR}/server.log" >&2 || true
      rm -f "${PID_FILE}"
      die "Kafka exited while starting"
    fi
    if (( SECONDS >= deadline )); then
      tail -n 40 "${LOG_DIR}/server.log" >&2 || true
      stop >/dev/null 2>&1 || true
      die "Kafka not ready after ${START_TIMEOUT} s"
    fi
    sleep 0.5
  done
  echo "127.0.0.1:${port}" >"${BOOTSTRAP_FILE}"
  say "ready in $((SECONDS - started)) s (pid $(cat "${PID_FILE}"), logs ${LOG_DIR})"
  echo "127.0.0.1:${port}"
}

stop() {
  if ! is_running; then
    say "not running"
    rm -f "${PID_FILE}" "${BOOTSTRAP_FILE}"
    return 0
  fi
  local pid
  pid="$(cat "${PID_FILE}")"
  say "stopping pid ${pid}"
  kill -TERM "${pid}" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "${pid}" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.5; done
  if kill -0 "${pid}" 2>/dev/null; then
    say "still alive after 30 s: SIGKILL"
    kill -KILL "${pid}" 2>/dev/null || true
  fi
  rm -f "${PID_FILE}" "${BOOTSTRAP_FILE}"
  if [[ "${PERSISTENT}" != "1" ]]; then rm -rf "${DATA_DIR}"; fi
}

status() {
  if is_running; then
    cat "${BOOTSTRAP_FILE}" 2>/dev/null || true
    return 0
  fi
  say "not running"
  return 1
}

logs() { tail -n "${1:-100}" "${LOG_DIR}/server.log"; }

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  logs) logs "${2:-100}" ;;
  *) echo "usage: $0 fetch|start|stop|status|logs [N]" >&2; exit 2 ;;
esac
