#!/usr/bin/env bash
# Hostile input: thousands of bad proposals (bad JSON and UTF-8, wrong types, missing and extra fields,
# huge and deep bodies, unknown tools, spoofed identities, injection strings, wrong content types,
# schema violations) mixed with valid ones, through the real pipeline on a scratch vhost and database;
# exits 0 only when every bad one was refused with a reason code, every valid one completed, none
# reached an executor and no service exited. docs/hostile-input.md explains the checks.
#   ops/hostile.sh --short          CI size (1,000 bad + 200 valid)
#   ops/hostile.sh                  full size (10,000 bad + 2,000 valid); --help lists the options
# Uses the servers ops/lib/servers.sh runs (their env is sourced from $STATE/env when not already set)
# and the build in artifacts/ (built first when missing; AGENTBUS_CONFIGURATION, default Debug).
set -euo pipefail

OPS_DIR="$(cd "$(dirname "$0")" && pwd)"
AGENTBUS_CONFIGURATION="${AGENTBUS_CONFIGURATION:-Debug}"
# shellcheck source=lib/pipeline.sh
. "$OPS_DIR/lib/pipeline.sh"
STATE="$PIPELINE_STATE"

if [[ -z "${AGENTBUS_RABBITMQ_MANAGEMENT_URL:-}" || -z "${AGENTBUS_POSTGRES_ADMIN:-}" ]]; then
  if [[ ! -f "$STATE/env" ]]; then
    # As ops/test.sh does: start the servers (idempotent) when nobody has yet.
    "$OPS_DIR/lib/servers.sh" up
  fi
  # shellcheck disable=SC1091
  . "$STATE/env"
fi
export AGENTBUS_SECRETS_DIR="${AGENTBUS_SECRETS_DIR:-$STATE/secrets}"
mkdir -p "$STATE/logs"

dll="$(pipeline_dll AgentBus.Hostile agentbus-hostile)"
if [[ ! -f "$dll" ]]; then
  pipeline_build
fi
exec dotnet "$dll" "$@" </dev/null
