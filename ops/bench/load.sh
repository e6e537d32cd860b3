#!/usr/bin/env bash
# The end-to-end load run (bench/AgentBus.LoadHarness) under the conditions the targets name:
# PostgreSQL with fsync on, durable queues, publisher confirms, Release builds, every service its
# own process on this machine. Arguments go to the harness (--help lists them), e.g.
#
#   ops/bench/load.sh                                   warm-up, throughput, latency at 500/s, broker ceiling
#   ops/bench/load.sh --rates 100,250,500 --rate-seconds 60
#   ops/bench/load.sh --throughput 0 --rates '' --ceiling 0 --soak-minutes 10 --soak-rate 100
#
# Servers: those of ops/run.sh and ops/test.sh ($AGENTBUS_STATE_DIR, default /var/lib/agentbus);
# a running PostgreSQL with fsync off (ops/test.sh leaves it so) is restarted with fsync on.
# The run provisions its own vhost and database and drops them afterwards.
set -euo pipefail

OPS_DIR="$(cd "$(dirname "$0")/.." && pwd)"
AGENTBUS_CONFIGURATION="${AGENTBUS_CONFIGURATION:-Release}"
# shellcheck source=../lib/pipeline.sh
. "$OPS_DIR/lib/pipeline.sh"
STATE="$PIPELINE_STATE"
mkdir -p "$STATE/logs"

AGENTBUS_PG_FSYNC="${AGENTBUS_PG_FSYNC:-on}" "$OPS_DIR/lib/servers.sh" up
# shellcheck disable=SC1091
. "$STATE/env"
export AGENTBUS_SECRETS_DIR="${AGENTBUS_SECRETS_DIR:-$STATE/secrets}"
pipeline_build
exec dotnet "$(pipeline_dll AgentBus.LoadHarness agentbus-load-harness)" "$@"
