#!/usr/bin/env bash
# Dead-letter tooling throughput on the real servers: lays N dead letters (with MassTransit's fault
# headers) into a scratch vhost's agentbus.projections_error, then times `agentbus dlq list`,
# `replay --all` (publisher confirms, one message at a time) and `purge --all` (archive rows in a
# scratch database). Nothing consumes the target queue, so the figures are the tool's own.
#
#   ops/bench/dlq.sh [N]        N dead letters (default 2000); needs a built CLI (Release or Debug)
#
# Uses the servers ops/test.sh or ops/run.sh started ($AGENTBUS_STATE_DIR/env); creates and drops
# vhost agentbus-bench-dlq-<pid> and database agentbus_bench_dlq_<pid>.
set -euo pipefail

N="${1:-2000}"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
STATE="${AGENTBUS_STATE_DIR:-/var/lib/agentbus}"
# shellcheck disable=SC1091
. "$STATE/env"
export AGENTBUS_SECRETS_DIR="${AGENTBUS_SECRETS_DIR:-$STATE/secrets}"

CLI_DLL=""
for config in release debug; do
  candidate="$REPO/artifacts/bin/AgentBus.Cli/$config/agentbus.dll"
  [[ -f "$candidate" ]] && { CLI_DLL="$candidate"; break; }
done
[[ -n "$CLI_DLL" ]] || { echo "build the solution first (dotnet build -c Release)" >&2; exit 2; }
cli() { dotnet "$CLI_DLL" "$@"; }

VHOST="agentbus-bench-dlq-$$"
DB="agentbus_bench_dlq_$$"
export AGENTBUS_RABBITMQ_VHOST="$VHOST"
ADMIN="$AGENTBUS_RABBITMQ_ADMIN_USER:$AGENTBUS_RABBITMQ_ADMIN_PASSWORD"
API="$AGENTBUS_RABBITMQ_MANAGEMENT_URL/api"
pg_admin() {
  python3 - "$AGENTBUS_POSTGRES_ADMIN" "$1" <<'PY'
import os, subprocess, sys
parts = dict(p.split("=", 1) for p in sys.argv[1].split(";") if p)
env = dict(os.environ, PGPASSWORD=parts.get("Password", ""))
subprocess.run(["psql", "-q", "-h", parts.get("Host", "127.0.0.1"), "-p", parts.get("Port", "5432"), "-U", parts.get("Username", "postgres"),
                "-d", parts.get("Database", "postgres"), "-c", sys.argv[2]], env=env, check=True)
PY
}
PG="${AGENTBUS_POSTGRES_ADMIN/Database=postgres/Database=$DB}"

cleanup() {
  curl -s -u "$ADMIN" -X DELETE "$API/vhosts/$VHOST" -o /dev/null || true
  pg_admin "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" || true
}
trap cleanup EXIT

pg_admin "CREATE DATABASE \"$DB\""
cli db migrate --postgres "$PG" > /dev/null
cli broker apply --policy "$REPO/ops/policies/policy.yaml" > /dev/null
curl -sf -u "$ADMIN" -X PUT -H 'content-type: application/json' "$API/queues/$VHOST/agentbus.projections_error" -d '{"durable":true}' -o /dev/null

echo "laying $N dead letters into $VHOST/agentbus.projections_error" >&2
python3 - "$API" "$ADMIN" "$VHOST" "$N" <<'PY'
import base64, json, sys, urllib.request, uuid, datetime
api, admin, vhost, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
auth = "Basic " + base64.b64encode(admin.encode()).decode()
for i in range(n):
    action = str(uuid.uuid4())
    body = json.dumps({"actionId": action, "runId": "run-bench", "agentId": "support-bot", "tool": "ticketing",
                       "result": {"ok": True}, "externalReference": None, "costUsd": 0.002, "durationMs": 5, "attempts": 1,
                       "completedAt": datetime.datetime.now(datetime.timezone.utc).isoformat()})
    exception = "Npgsql.PostgresException" if i % 3 else "System.TimeoutException"
    message = {"routing_key": "agentbus.projections_error", "payload": body, "payload_encoding": "string", "properties": {
        "message_id": str(uuid.uuid4()), "content_type": "application/json", "delivery_mode": 2, "headers": {
            "MT-MessageType": "urn:message:AgentBus.Contracts:ActionSucceeded", "MT-Reason": "fault",
            "MT-Fault-ExceptionType": exception, "MT-Fault-Message": "bench", "MT-Fault-ConsumerType": "AgentBus.Projections.Audit.AuditProjection",
            "MT-Fault-InputAddress": f"rabbitmq://127.0.0.1/{vhost}/agentbus.projections",
            "MT-Fault-Timestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "MT-Fault-RetryCount": 5}}}
    request = urllib.request.Request(f"{api}/exchanges/{vhost}/amq.default/publish", data=json.dumps(message).encode(),
                                     headers={"Authorization": auth, "Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(request).read()
PY

timed() {
  local label="$1"; shift
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null
  end=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[3]); print(f'{sys.argv[4]:<34} {n:>6} messages  {s:7.2f} s  {n/s:8.0f} msg/s')" "$start" "$end" "$N" "$label"
}

timed "dlq list (read all, give back)" cli dlq list --scan-limit "$N"
timed "dlq replay --all" cli dlq replay agentbus.projections_error --all --operator bench
# Replaying is one way: lay a fresh set of dead letters for the purge.
curl -s -u "$ADMIN" -X DELETE "$API/queues/$VHOST/agentbus.projections/contents" -o /dev/null
python3 - "$API" "$ADMIN" "$VHOST" "$N" <<'PY'
import base64, json, sys, urllib.request, uuid
api, admin, vhost, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
auth = "Basic " + base64.b64encode(admin.encode()).decode()
for i in range(n):
    message = {"routing_key": "agentbus.projections_error", "payload": json.dumps({"actionId": str(uuid.uuid4()), "runId": "run-bench"}),
               "payload_encoding": "string", "properties": {"message_id": str(uuid.uuid4()), "delivery_mode": 2, "headers": {
                   "MT-Fault-ExceptionType": "System.TimeoutException", "MT-Reason": "fault"}}}
    request = urllib.request.Request(f"{api}/exchanges/{vhost}/amq.default/publish", data=json.dumps(message).encode(),
                                     headers={"Authorization": auth, "Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(request).read()
PY
timed "dlq purge --all --yes" cli dlq purge agentbus.projections_error --all --yes --reason bench --operator bench --postgres "$PG"
