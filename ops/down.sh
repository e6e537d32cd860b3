#!/usr/bin/env bash
# Stop the AgentBus pipeline processes, then RabbitMQ and PostgreSQL.
#   ops/down.sh            stop; data and secrets stay in $AGENTBUS_STATE_DIR (default /var/lib/agentbus)
#   ops/down.sh --purge    stop and delete the state folder
set -euo pipefail

OPS_DIR="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib/pipeline.sh
. "$OPS_DIR/lib/pipeline.sh"

stop_pipeline
exec "$OPS_DIR/lib/servers.sh" down "$@"
