#!/usr/bin/env bash
# Real Kafka (KRaft, from Maven Central jars) and Redis (Debian's redis-server) on 127.0.0.1,
# without Docker. Idempotent: reuses services already listening and jars already fetched.
#   scripts/services.sh up|down|status
# Environment: RIFFLE_KAFKA_PORT (9092), RIFFLE_KAFKA_CONTROLLER_PORT (9093), RIFFLE_REDIS_PORT
# (6379), RIFFLE_SERVICES_DIR (<repo>/.services).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
KAFKA_HOME="$ROOT/docker/kafka-local"
LIBS="$KAFKA_HOME/target/kafka-libs"
STATE=${RIFFLE_SERVICES_DIR:-$ROOT/.services}
KAFKA_PORT=${RIFFLE_KAFKA_PORT:-9092}
CONTROLLER_PORT=${RIFFLE_KAFKA_CONTROLLER_PORT:-9093}
REDIS_PORT=${RIFFLE_REDIS_PORT:-6379}
CLUSTER_ID=MkU3OEVBNTcwNTJENDM2Qk

log() { echo "[services] $*" >&2; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

kafka_jars() {
  if [ -n "$(ls "$LIBS"/kafka_2.13-*.jar 2>/dev/null)" ]; then return; fi
  command -v mvn >/dev/null || { log "mvn not found: install Maven (apt-get install -y maven)"; exit 1; }
  log "fetching the Kafka broker jars from Maven Central (cached in ~/.m2)"
  mvn -q -B -f "$KAFKA_HOME/pom.xml" dependency:copy-dependencies
}

kafka_up() {
  if listening "$KAFKA_PORT"; then log "kafka: already listening on 127.0.0.1:$KAFKA_PORT"; return; fi
  command -v java >/dev/null || { log "java not found: Java 17 is required"; exit 1; }
  kafka_jars
  local dir="$STATE/kafka-$KAFKA_PORT"
  mkdir -p "$dir/data" "$dir/logs"
  sed -e "s#@DATA_DIR@#$dir/data#" -e "s#@PORT@#$KAFKA_PORT#" \
      -e "s#@CONTROLLER_PORT@#$CONTROLLER_PORT#" \
      "$KAFKA_HOME/server.properties.in" > "$dir/server.properties"
  local logopts="-Dlog4j2.configurationFile=$KAFKA_HOME/log4j2.properties -Dkafka.logs.dir=$dir/logs"
  # shellcheck disable=SC2086
  java -Xmx256m $logopts -cp "$LIBS/*" kafka.tools.StorageTool format -t "$CLUSTER_ID" \
    -c "$dir/server.properties" --ignore-formatted >"$dir/format.log" 2>&1 \
    || { cat "$dir/format.log" >&2; exit 1; }
  log "kafka: starting on 127.0.0.1:$KAFKA_PORT (log: $dir/kafka.log)"
  # shellcheck disable=SC2086
  nohup java -Xms512m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    $logopts -cp "$LIBS/*" kafka.Kafka "$dir/server.properties" >"$dir/kafka.log" 2>&1 &
  echo $! >"$dir/kafka.pid"
  for _ in $(seq 1 120); do
    if grep -q "Kafka Server started" "$dir/kafka.log" 2>/dev/null && listening "$KAFKA_PORT"; then
      log "kafka: ready"; return
    fi
    if ! kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; then
      tail -50 "$dir/kafka.log" >&2; log "kafka: the broker exited"; exit 1
    fi
    sleep 0.5
  done
  tail -50 "$dir/kafka.log" >&2; log "kafka: not ready after 60 s"; exit 1
}

redis_up() {
  if listening "$REDIS_PORT"; then log "redis: already listening on 127.0.0.1:$REDIS_PORT"; return; fi
  if ! command -v redis-server >/dev/null; then
    log "redis: installing Debian's redis-server"
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq redis-server >/dev/null
  fi
  mkdir -p "$STATE"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --pidfile "$STATE/redis-$REDIS_PORT.pid" --logfile "$STATE/redis-$REDIS_PORT.log"
  for _ in $(seq 1 50); do listening "$REDIS_PORT" && { log "redis: ready"; return; }; sleep 0.1; done
  log "redis: not ready"; exit 1
}

stop_pidfile() {
  local pidfile=$1
  [ -f "$pidfile" ] || return 0
  local pid; pid=$(cat "$pidfile")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  up) kafka_up; redis_up
      echo "RIFFLE_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT RIFFLE_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0" ;;
  down) stop_pidfile "$STATE/kafka-$KAFKA_PORT/kafka.pid"; stop_pidfile "$STATE/redis-$REDIS_PORT.pid"
        log "stopped what this script started" ;;
  status) listening "$KAFKA_PORT" && echo "kafka: up on $KAFKA_PORT" || echo "kafka: down"
          listening "$REDIS_PORT" && echo "redis: up on $REDIS_PORT" || echo "redis: down" ;;
  jars) kafka_jars ;;
  *) echo "usage: $0 up|down|status|jars" >&2; exit 2 ;;
esac
