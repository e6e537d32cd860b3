#!/usr/bin/env bash
# Starts the sandbox system of record with the two tool secrets that setup generated. The sandbox reads
# its keys only from configuration, so they go into its environment here, at start, rather than into
# docker-compose.yml (where `docker inspect` would show them).
set -euo pipefail
dir="${AGENTBUS_SECRETS_DIR:-/var/lib/agentbus/secrets}/tools"
for tool in ticketing payments; do
  [[ -s "$dir/$tool" ]] || { echo "sandbox-api: no secret for tool $tool at $dir/$tool (did setup run?)" >&2; exit 1; }
done
Sandbox__TicketingKey="$(<"$dir/ticketing")"
Sandbox__PaymentsKey="$(<"$dir/payments")"
export Sandbox__TicketingKey Sandbox__PaymentsKey
exec dotnet agentbus-sandbox-api.dll "$@"
