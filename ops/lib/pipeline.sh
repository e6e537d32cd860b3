#!/usr/bin/env bash
# Shared by ops/run.sh, ops/down.sh and ops/test.sh: build the solution, start and stop the
# pipeline's processes (pid files in $STATE/run, logs in $STATE/logs), wait for readiness.
# Sourced, not run.

PIPELINE_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PIPELINE_STATE="${AGENTBUS_STATE_DIR:-/var/lib/agentbus}"
PIPELINE_CONFIGURATION="${AGENTBUS_CONFIGURATION:-Release}"

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export MASSTRANSIT_USAGE_TELEMETRY=false

pipeline_log() { printf '[agentbus] %s\n' "$*" >&2; }

# The built program for a project, e.g. pipeline_dll AgentBus.Policy agentbus-policy
pipeline_dll() {
  local config
  config="$(echo "$PIPELINE_CONFIGURATION" | tr '[:upper:]' '[:lower:]')"
  printf '%s/artifacts/bin/%s/%s/%s.dll' "$PIPELINE_REPO" "$1" "$config" "$2"
}

pipeline_build() {
  pipeline_log "building the solution ($PIPELINE_CONFIGURATION)"
  if ! dotnet build "$PIPELINE_REPO/AgentBus.sln" -c "$PIPELINE_CONFIGURATION" -nologo -v quiet \
      -p:TreatWarningsAsErrors=true > "$PIPELINE_STATE/logs/build.log" 2>&1; then
    grep -E 'error|Error' "$PIPELINE_STATE/logs/build.log" | sort -u | head -n 30 >&2
    pipeline_log "build failed; full log: $PIPELINE_STATE/logs/build.log"
    return 1
  fi
}

agentbus_cli() { dotnet "$(pipeline_dll AgentBus.Cli agentbus)" "$@"; }

# pipeline_start NAME PROJECT ASSEMBLY [ARGS...]: runs it in the background from the repo root,
# with environment variables already exported by the caller, logging to $STATE/logs/NAME.log.
pipeline_start() {
  local name="$1" project="$2" assembly="$3"
  shift 3
  mkdir -p "$PIPELINE_STATE/run" "$PIPELINE_STATE/logs"
  # The administrators' credentials in $STATE/env are for setup; no service process is given them.
  (cd "$PIPELINE_REPO" && exec env -u AGENTBUS_POSTGRES_ADMIN -u AGENTBUS_POSTGRES -u AGENTBUS_RABBITMQ_ADMIN_PASSWORD \
      dotnet "$(pipeline_dll "$project" "$assembly")" "$@" \
      >> "$PIPELINE_STATE/logs/$name.log" 2>&1 < /dev/null) &
  echo $! > "$PIPELINE_STATE/run/$name.pid"
}

# pipeline_wait_ready NAME URL: polls until the URL answers 200 or the process dies (60 s at most).
pipeline_wait_ready() {
  local name="$1" url="$2" pid i
  pid="$(cat "$PIPELINE_STATE/run/$name.pid")"
  for ((i = 0; i < 300; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      pipeline_log "$name exited while starting; last lines of $PIPELINE_STATE/logs/$name.log:"
      tail -n 20 "$PIPELINE_STATE/logs/$name.log" | sed 's/^/  /' >&2
      return 1
    fi
    if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  pipeline_log "$name did not become ready at $url within 60 s; see $PIPELINE_STATE/logs/$name.log"
  return 1
}

# The one place that stops pipeline processes: every process that wrote its pid to
# $STATE/run/NAME.pid gets SIGTERM, then SIGKILL after ~10 s. No pid files: nothing to do.
stop_pipeline() {
  local f pid name i pids=()
  shopt -s nullglob
  for f in "$PIPELINE_STATE"/run/*.pid; do
    pid="$(head -n 1 "$f" 2>/dev/null || true)"
    name="$(basename "$f" .pid)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
      pipeline_log "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
    rm -f "$f"
  done
  shopt -u nullglob
  for pid in "${pids[@]}"; do
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      pipeline_log "pid $pid ignored SIGTERM: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}
