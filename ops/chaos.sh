#!/usr/bin/env bash
# Fault run (issue 8): the real pipeline under traffic while an executor, the policy service, the
# projections and the approvals service are SIGKILLed and restarted in turn, then RabbitMQ, then
# PostgreSQL are restarted. Then: every action ended (none missing), no side effect twice (the
# sandbox's own record), the audit chain verifies, budgets balance. Exit 0 only if all of that holds.
#
#   ops/chaos.sh --short              the CI run (600 actions, same faults, shorter gaps; a few minutes)
#   ops/chaos.sh                      the full run (5,000 actions)
#   ops/chaos.sh --configuration Release --actions 2000 --rate 30 --keep ...   (see --help)
#
# Cluster mode (issue 19): the same pipeline and checks on a three-node RabbitMQ cluster
# (ops/lib/cluster.sh, quorum queues); the faults are SIGKILLs of the node serving most of the
# run's connections, under traffic, each node started again and rejoined before the next kill:
#
#   ops/chaos.sh --cluster --short    the CI run (600 actions, two node kills)
#   ops/chaos.sh --cluster            the full run (5,000 actions, two node kills); --node-kills, --node-down: see --help
#
# It never touches the shared servers: it starts its own RabbitMQ and PostgreSQL with
# ops/lib/servers.sh (or its own cluster with ops/lib/cluster.sh) on a private state folder and
# ports, restarts or kills those during the run, and stops them at the end (--keep leaves them, and
# the run's vhost, database and logs, for a look).
#
# Environment (all optional):
#   AGENTBUS_CHAOS_STATE_DIR        private servers' state folder (default /tmp/agentbus-chaos)
#   AGENTBUS_CHAOS_RABBITMQ_PORT    AMQP port (default 5682); management port: AGENTBUS_CHAOS_MANAGEMENT_PORT (15682)
#   AGENTBUS_CHAOS_POSTGRES_PORT    PostgreSQL port (default 5442)
#   AGENTBUS_CHAOS_COMPOSE_PROJECT  docker mode only: compose project (default agentbus-chaos-<amqp port>)
#   cluster mode: AGENTBUS_CHAOS_CLUSTER_STATE_DIR (default /tmp/agentbus-chaos-cluster), AGENTBUS_CHAOS_CLUSTER_AMQP_BASE
#   (node 1's AMQP port, default 5892; nodes 2, 3: +1, +2), AGENTBUS_CHAOS_CLUSTER_MANAGEMENT_BASE (15892),
#   AGENTBUS_CHAOS_CLUSTER_POSTGRES_PORT (5642)
#   AGENTBUS_CONFIGURATION          Release or Debug (default: Release when built, else Debug; built when missing)
set -euo pipefail

OPS_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO_DIR="$(cd "$OPS_DIR/.." && pwd)"
log() { printf '[chaos] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

config="${AGENTBUS_CONFIGURATION:-}"
keep=0
cluster=0
args=()
while (($#)); do
  case "$1" in
    --configuration | -c)
      (($# >= 2)) || die "$1 needs Release or Debug"
      config="$2"
      shift 2
      ;;
    --keep)
      keep=1
      args+=("$1")
      shift
      ;;
    --cluster)
      cluster=1
      shift
      ;;
    -h | --help)
      awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" | sed 's/^# \{0,1\}//' >&2
      args+=("$1")
      shift
      ;;
    *)
      args+=("$1")
      shift
      ;;
  esac
done

# The chaos program and every service it starts, built in one configuration.
built() { # configuration
  local dir="$REPO_DIR/artifacts/bin" c="${1,,}" dll
  for dll in AgentBus.Chaos/agentbus-chaos AgentBus.Policy/agentbus-policy AgentBus.Executor/agentbus-executor \
    AgentBus.Projections/agentbus-projections AgentBus.Approvals/agentbus-approvals AgentBus.SandboxApi/agentbus-sandbox-api; do
    [[ -f "$dir/${dll%%/*}/$c/${dll#*/}.dll" ]] || return 1
  done
}
if [[ -z "$config" ]]; then
  if built Release; then config=Release; else config=Debug; fi
fi
[[ "$config" == Release || "$config" == Debug ]] || die "--configuration is Release or Debug (got '$config')"
if ! built "$config"; then
  log "building AgentBus.sln ($config)"
  dotnet build "$REPO_DIR/AgentBus.sln" -c "$config" -nologo -v quiet </dev/null >&2 || die "build failed"
fi
chaos_dll="$REPO_DIR/artifacts/bin/AgentBus.Chaos/${config,,}/agentbus-chaos.dll"

for a in "${args[@]}"; do
  if [[ "$a" == -h || "$a" == --help ]]; then
    dotnet "$chaos_dll" --help </dev/null || true
    exit 0
  fi
done

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1

# Private servers: never the shared ones on /var/lib/agentbus, 5672 and 5432.
if ((cluster)); then
  export AGENTBUS_STATE_DIR="${AGENTBUS_CHAOS_CLUSTER_STATE_DIR:-/tmp/agentbus-chaos-cluster}"
  export AGENTBUS_CLUSTER_AMQP_BASE="${AGENTBUS_CHAOS_CLUSTER_AMQP_BASE:-5892}"
  export AGENTBUS_CLUSTER_MANAGEMENT_BASE="${AGENTBUS_CHAOS_CLUSTER_MANAGEMENT_BASE:-15892}"
  export AGENTBUS_POSTGRES_PORT="${AGENTBUS_CHAOS_CLUSTER_POSTGRES_PORT:-5642}"
  unset AGENTBUS_CLUSTER_DIST_BASE AGENTBUS_CLUSTER_COMPOSE_PROJECT
  servers_script="$OPS_DIR/lib/cluster.sh"
  servers_what="a three-node RabbitMQ cluster 127.0.0.1:$AGENTBUS_CLUSTER_AMQP_BASE-$((AGENTBUS_CLUSTER_AMQP_BASE + 2)) (management from $AGENTBUS_CLUSTER_MANAGEMENT_BASE)"
  fault_arguments=(--cluster-script "$servers_script")
  [[ "$AGENTBUS_CLUSTER_AMQP_BASE" != 5672 && "$AGENTBUS_POSTGRES_PORT" != 5432 ]] ||
    die "the chaos cluster must not use the default ports 5672/5432 (those servers are shared)"
else
  export AGENTBUS_RABBITMQ_PORT="${AGENTBUS_CHAOS_RABBITMQ_PORT:-5682}"
  export AGENTBUS_RABBITMQ_MANAGEMENT_PORT="${AGENTBUS_CHAOS_MANAGEMENT_PORT:-15682}"
  export AGENTBUS_STATE_DIR="${AGENTBUS_CHAOS_STATE_DIR:-/tmp/agentbus-chaos}"
  export AGENTBUS_POSTGRES_PORT="${AGENTBUS_CHAOS_POSTGRES_PORT:-5442}"
  unset AGENTBUS_RABBITMQ_NODENAME AGENTBUS_RABBITMQ_DIST_PORT
  # docker mode: a compose project of its own (containers, volumes), never the shared one
  export COMPOSE_PROJECT_NAME="${AGENTBUS_CHAOS_COMPOSE_PROJECT:-agentbus-chaos-$AGENTBUS_RABBITMQ_PORT}"
  servers_script="$OPS_DIR/lib/servers.sh"
  servers_what="RabbitMQ 127.0.0.1:$AGENTBUS_RABBITMQ_PORT (management $AGENTBUS_RABBITMQ_MANAGEMENT_PORT)"
  fault_arguments=(--servers-script "$servers_script")
  [[ "$AGENTBUS_RABBITMQ_PORT" != 5672 && "$AGENTBUS_RABBITMQ_MANAGEMENT_PORT" != 15672 && "$AGENTBUS_POSTGRES_PORT" != 5432 ]] ||
    die "the chaos servers must not use the default ports 5672/15672/5432 (those servers are shared)"
fi
[[ "${AGENTBUS_STATE_DIR%/}" != /var/lib/agentbus ]] || die "the chaos state folder must not be the shared /var/lib/agentbus"
# a fault run never sends its servers' own settings onwards to the cluster script, or the reverse
unset AGENTBUS_RABBITMQ_ENDPOINTS AGENTBUS_RABBITMQ_NODES AGENTBUS_RABBITMQ_MANAGEMENT_URLS

# shellcheck disable=SC2317 # called by the EXIT trap
stop_servers() {
  if ((keep)); then
    log "--keep: servers left running; stop them with: $(env | grep -E '^(AGENTBUS_STATE_DIR|AGENTBUS_RABBITMQ_PORT|AGENTBUS_RABBITMQ_MANAGEMENT_PORT|AGENTBUS_CLUSTER_AMQP_BASE|AGENTBUS_CLUSTER_MANAGEMENT_BASE|AGENTBUS_POSTGRES_PORT)=' | tr '\n' ' ')$servers_script down --purge"
  else
    "$servers_script" down --purge </dev/null || log "could not stop the private servers in $AGENTBUS_STATE_DIR"
  fi
}
trap stop_servers EXIT

log "private servers: state $AGENTBUS_STATE_DIR, $servers_what, PostgreSQL 127.0.0.1:$AGENTBUS_POSTGRES_PORT"
"$servers_script" up </dev/null
# shellcheck disable=SC1091
. "$AGENTBUS_STATE_DIR/env"
export AGENTBUS_SECRETS_DIR="$AGENTBUS_STATE_DIR/run-secrets"

log "running $chaos_dll ${fault_arguments[*]} ${args[*]}"
dotnet "$chaos_dll" "${fault_arguments[@]}" "${args[@]}" </dev/null &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' TERM INT
status=0
wait "$pid" || status=$?
# a signal interrupts the first wait: wait for the program's own cleanup
if kill -0 "$pid" 2>/dev/null; then wait "$pid" || status=$?; fi
exit "$status"
