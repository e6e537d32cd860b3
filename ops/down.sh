#!/usr/bin/env bash
# Stop the AgentBus pipeline processes, then RabbitMQ and PostgreSQL.
#   ops/down.sh            stop; data and secrets stay in $AGENTBUS_STATE_DIR (default /var/lib/agentbus)
#   ops/down.sh --purge    stop and delete the state folder
set -euo pipefail

OPS_DIR="$(cd "$(dirname "$0")" && pwd)"
STATE="${AGENTBUS_STATE_DIR:-/var/lib/agentbus}"

# The one place that stops pipeline processes: every process that wrote its pid to
# $STATE/run/NAME.pid gets SIGTERM, then SIGKILL after ~10 s. No pid files: nothing to do.
stop_pipeline() {
  local f pid name i pids=()
  shopt -s nullglob
  for f in "$STATE"/run/*.pid; do
    pid="$(head -n 1 "$f" 2>/dev/null || true)"
    name="$(basename "$f" .pid)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
      echo "[down] stopping $name (pid $pid)" >&2
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
    rm -f "$f"
  done
  shopt -u nullglob
  for pid in "${pids[@]}"; do
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "[down] pid $pid ignored SIGTERM: SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

stop_pipeline
exec "$OPS_DIR/lib/servers.sh" down "$@"
