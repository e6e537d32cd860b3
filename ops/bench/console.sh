#!/usr/bin/env bash
# The operator console's page times with a month of traffic in the database: a scratch database,
# seeded with N audited actions written by the pipeline's own code (policy evaluation, audit writer,
# hash chain), a console host on a free loopback port reading it, every page timed, then everything
# it started stopped and the scratch database dropped (on failure too).
#
#   ops/bench/console.sh [--actions 100000] [--days 30] [--rounds 20] [--seed 1] [--settle 20]
#
# --settle: seconds to wait after the console is ready, so its start-up work (verifying the whole
# audit chain, the first gates computation) is over; its gates refresh (at most once a minute while the page is
# viewed, every 15 minutes otherwise) is not avoided, as operators do not avoid it either.
#
# Requirement it measures: every page answers in under 300 ms with 100,000 audited actions.
# Environment: AGENTBUS_STATE_DIR (default /var/lib/agentbus), AGENTBUS_CONFIGURATION (default Release),
# AGENTBUS_CONSOLEBENCH_DB (default agentbus_consolebench).
set -euo pipefail

OPS_DIR="$(cd "$(dirname "$0")/.." && pwd)"
AGENTBUS_CONFIGURATION="${AGENTBUS_CONFIGURATION:-Release}"
# shellcheck source=../lib/pipeline.sh
. "$OPS_DIR/lib/pipeline.sh"
REPO="$PIPELINE_REPO"
STATE="$PIPELINE_STATE"

actions=100000 days=30 rounds=20 seed=1 settle=20
number() { [[ "$2" =~ ^[1-9][0-9]{0,7}$ ]] || { echo "$1 takes a positive whole number" >&2; exit 64; }; }
while (($#)); do
  case "$1" in
    --actions) number "$1" "${2:-}"; actions="$2"; shift 2 ;;
    --days) number "$1" "${2:-}"; days="$2"; shift 2 ;;
    --rounds) number "$1" "${2:-}"; rounds="$2"; shift 2 ;;
    --seed) number "$1" "${2:-}"; seed="$2"; shift 2 ;;
    --settle) [[ "${2:-}" =~ ^[0-9]{1,3}$ ]] || { echo "--settle takes 0 to 999 seconds" >&2; exit 64; }; settle="$2"; shift 2 ;;
    *) echo "usage: ops/bench/console.sh [--actions N] [--days N] [--rounds N] [--seed N] [--settle S]" >&2; exit 64 ;;
  esac
done

DB="${AGENTBUS_CONSOLEBENCH_DB:-agentbus_consolebench}"
[[ "$DB" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || { echo "AGENTBUS_CONSOLEBENCH_DB must be a plain lower-case identifier" >&2; exit 64; }

"$OPS_DIR/lib/servers.sh" up
# shellcheck disable=SC1091
. "$STATE/env"
mkdir -p "$STATE/logs"

pipeline_build
BENCH_DLL="$(pipeline_dll AgentBus.ConsoleBench agentbus-console-bench)"
CONSOLE_DLL="$(pipeline_dll AgentBus.OperatorConsole agentbus-console)"
[[ -f "$CONSOLE_DLL" ]] || { pipeline_log "no console host at $CONSOLE_DLL (src/AgentBus.OperatorConsole not in this tree?)"; exit 1; }
bench() { dotnet "$BENCH_DLL" "$@"; }

# Like the integration testbed's scratch databases, this one is created, migrated and read with the
# administrator's connection (the console's password goes in as a file, never in its environment).
# The page times do not depend on the login; the console's own login (agentbus-console) is a
# shared-cluster setup step (`db roles --logins`) this script leaves to ops/run.sh.
PG_PORT="${AGENTBUS_POSTGRES_PORT:-5432}"
ADMIN_PASSWORD_FILE="$STATE/secrets/postgres-postgres.password"
CONN_NO_PASSWORD="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=$DB"
CONN="$CONN_NO_PASSWORD;Password=$(cat "$ADMIN_PASSWORD_FILE")"

WORK="$(mktemp -d)"
console_pid=""
database_created=0
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n "$console_pid" ]] && kill -0 "$console_pid" 2>/dev/null; then
    kill "$console_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$console_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$console_pid" 2>/dev/null || true
  fi
  if ((database_created)); then
    bench database drop --admin "$AGENTBUS_POSTGRES_ADMIN" --name "$DB" || pipeline_log "could not drop $DB; drop it by hand"
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pipeline_log "scratch database $DB"
bench database drop --admin "$AGENTBUS_POSTGRES_ADMIN" --name "$DB"
database_created=1
bench database create --admin "$AGENTBUS_POSTGRES_ADMIN" --name "$DB"
agentbus_cli db roles --postgres "$AGENTBUS_POSTGRES_ADMIN" > "$STATE/logs/consolebench-setup.log"
agentbus_cli db migrate --postgres "$CONN" >> "$STATE/logs/consolebench-setup.log" \
  || { pipeline_log "migration failed; see $STATE/logs/consolebench-setup.log"; tail -n 3 "$STATE/logs/consolebench-setup.log" >&2; exit 1; }

pipeline_log "seeding $actions actions over $days days"
timeout 900 dotnet "$BENCH_DLL" seed --postgres "$CONN" --actions "$actions" --days "$days" --seed "$seed" \
  --policy "$REPO/ops/policies/policy.yaml" --redaction "$REPO/ops/audit/redaction.json" | tee "$WORK/seed.txt"

# A viewer of the console: the approver store issues the token, into a file only this run reads.
agentbus_cli approvers add consolebench-viewer --group console-viewers --token-file "$WORK/token" \
  --policy "$REPO/ops/policies/policy.yaml" --postgres "$CONN" >> "$STATE/logs/consolebench-setup.log"

port=""
for candidate in $(shuf -i 20000-60999 -n 50); do
  if [[ -z "$(ss -Hltn "sport = :$candidate" 2>/dev/null)" ]]; then port="$candidate"; break; fi
done
[[ -n "$port" ]] || { pipeline_log "no free loopback port found"; exit 1; }
URL="http://127.0.0.1:$port"

pipeline_log "starting the console at $URL (log: $STATE/logs/consolebench-console.log)"
(cd "$REPO" && exec env -u AGENTBUS_POSTGRES_ADMIN -u AGENTBUS_POSTGRES -u AGENTBUS_RABBITMQ_ADMIN_PASSWORD \
    ASPNETCORE_ENVIRONMENT=Production \
    Database__ConnectionString="$CONN_NO_PASSWORD" Database__PasswordFile="$ADMIN_PASSWORD_FILE" Database__ApplyMigrations=false \
    Console__PolicyFile="$REPO/ops/policies/policy.yaml" Console__GatesFile="$REPO/ops/gates.yaml" Console__SecureCookies=false \
    Console__SecretsDirectory="$STATE/secrets" Console__ManagementUrl="$AGENTBUS_RABBITMQ_MANAGEMENT_URL" \
    RabbitMq__Host="$AGENTBUS_RABBITMQ_HOST" RabbitMq__Port="$AGENTBUS_RABBITMQ_PORT" RabbitMq__VirtualHost=agentbus \
    dotnet "$CONSOLE_DLL" --urls "$URL" > "$STATE/logs/consolebench-console.log" 2>&1 < /dev/null) &
console_pid=$!

ready=0
for _ in $(seq 120); do
  kill -0 "$console_pid" 2>/dev/null || { pipeline_log "the console exited; last lines:"; tail -n 30 "$STATE/logs/consolebench-console.log" >&2; exit 1; }
  if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/health/ready" || true)" == 200 ]]; then ready=1; break; fi
  sleep 0.5
done
((ready)) || { pipeline_log "the console was not ready within 60 s"; tail -n 30 "$STATE/logs/consolebench-console.log" >&2; exit 1; }

pipeline_log "ready; letting its start-up work finish (${settle} s), then timing the pages ($rounds rounds)"
sleep "$settle"
kill -0 "$console_pid" 2>/dev/null || { pipeline_log "the console exited; last lines:"; tail -n 30 "$STATE/logs/consolebench-console.log" >&2; exit 1; }
measured=0
timeout 900 dotnet "$BENCH_DLL" measure --console "$URL" --token "$(cat "$WORK/token")" --rounds "$rounds" --postgres "$CONN" \
  | tee "$WORK/measure.txt" || measured=$?

echo
echo "conditions: $AGENTBUS_CONFIGURATION build of $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'); $(nproc) cores" \
     "($(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ //' || echo '?')), $(free -g | awk '/Mem:/ {print $2}') GB RAM;" \
     "console, PostgreSQL and the client on one machine over loopback; $actions actions over $days days (seed $seed);" \
     "timed from ${settle} s after the console was ready"
grep -E '^seeded|^  generate' "$WORK/seed.txt" || true
exit "$measured"
