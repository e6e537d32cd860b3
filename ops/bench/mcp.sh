#!/usr/bin/env bash
# The MCP gateway measured end to end (bench/AgentBus.McpBench), in one invocation: payments.get_order
# of ORD-1001, an allowed read-only call, made directly to the sandbox over HTTP (the baseline), by an
# AgentBus client over AMQP (the pipeline without the gateway) and through the MCP gateway with the
# official C# MCP client; latency at a fixed rate and closed-loop throughput for each, the gateway's
# CPU and memory per call and every process's CPU per call, in one table. It provisions its own vhost
# and database, starts every service as its own process, and drops and stops everything afterwards.
#
#   ops/bench/mcp.sh                 the default run (about 2.5 minutes with the build already done)
#   ops/bench/mcp.sh --short         a smoke run (about 30 s of calls)
#   ops/bench/mcp.sh --help          rate, callers, durations
#
# Conditions as ops/bench/load.sh: Release builds, PostgreSQL with fsync on (a running PostgreSQL with
# fsync off is restarted with it on; AGENTBUS_PG_FSYNC=off keeps it off), durable queues, publisher
# confirms, servers of $AGENTBUS_STATE_DIR (default /var/lib/agentbus). Exits non-zero when any call fails.
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

out="$STATE/logs/mcp-bench-$(date -u +%Y%m%dT%H%M%SZ).md"
# The table goes to stdout and to $out; progress goes to stderr.
set +e
dotnet "$(pipeline_dll AgentBus.McpBench agentbus-mcp-bench)" "$@" | tee "$out"
status="${PIPESTATUS[0]}"
set -e
pipeline_log "report: $out"
exit "$status"
