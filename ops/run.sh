#!/usr/bin/env bash
# The main job: RabbitMQ and PostgreSQL (Docker when an engine answers, Debian packages when not),
# migrations and broker users, the whole pipeline, then the demo agent's actions as a table.
#
#   ops/run.sh          run the demo, then keep the pipeline running until Ctrl-C
#   ops/run.sh --once   run the demo and stop the pipeline (exit code: the demo's)
#
# Servers and data stay up afterwards; ops/down.sh stops everything.
set -euo pipefail

OPS_DIR="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib/pipeline.sh
. "$OPS_DIR/lib/pipeline.sh"
# shellcheck source=lib/confine.sh
. "$OPS_DIR/lib/confine.sh"
REPO="$PIPELINE_REPO"
STATE="$PIPELINE_STATE"

once=0
case "${1:-}" in
  --once) once=1 ;;
  "") ;;
  *) echo "usage: ops/run.sh [--once]" >&2; exit 2 ;;
esac

"$OPS_DIR/lib/servers.sh" up
# shellcheck disable=SC1091
. "$STATE/env"
mkdir -p "$STATE/logs" "$STATE/run"

SECRETS="$STATE/secrets"
export AGENTBUS_SECRETS_DIR="$SECRETS" AGENTBUS_RABBITMQ_VHOST=agentbus
POLICY_FILE="$REPO/ops/policies/policy.yaml"
TOOLS=(ticketing payments)

stop_pipeline
pipeline_build
pipeline_dll AgentBus.Cli agentbus > "$STATE/cli-dll"
# The operator CLI on the PATH, reading this machine's settings itself (ops/agentbus).
CLI_LINK=/usr/local/bin/agentbus
if [[ ! -w "$(dirname "$CLI_LINK")" ]]; then
  CLI_LINK="$HOME/.local/bin/agentbus"
  mkdir -p "$(dirname "$CLI_LINK")"
fi
ln -sfn "$REPO/ops/agentbus" "$CLI_LINK"

pipeline_log "applying database roles, migrations and broker users"
# Roles are cluster-wide and need CREATEROLE (an administrator): the group roles, and one login per
# service (executors: per tool) with its password in $SECRETS/postgres/<login>. The owner (agentbus)
# then applies migrations; no service connects as it.
agentbus_cli db roles --postgres "$AGENTBUS_POSTGRES_ADMIN" --logins --policy "$POLICY_FILE" > "$STATE/logs/setup.log"
agentbus_cli db migrate --postgres "$AGENTBUS_POSTGRES" >> "$STATE/logs/setup.log"
agentbus_cli broker apply --policy "$POLICY_FILE" >> "$STATE/logs/setup.log"

# Each tool's secret is shared by its executor and the sandbox system of record, nobody else.
agentbus_cli secrets init --policy "$POLICY_FILE" >> "$STATE/logs/setup.log"

# The policy service signs every ExecuteTool; executors trust only its public key.
SIGNING="$SECRETS/signing"
if [[ ! -s "$SIGNING/policy-signing.key.pem" || ! -s "$SIGNING/policy-signing.pub.pem" ]]; then
  pipeline_log "generating the policy service's signing key in $SIGNING"
  agentbus_cli keys generate --out "$SIGNING" --force >> "$STATE/logs/setup.log"
fi

# Passwords are passed as files, never in the environment. Each service connects to PostgreSQL as its
# own login (agentbus db roles --logins), which owns nothing and may do only what that service does.
export RabbitMq__Host="$AGENTBUS_RABBITMQ_HOST" RabbitMq__Port="$AGENTBUS_RABBITMQ_PORT" RabbitMq__VirtualHost="$AGENTBUS_RABBITMQ_VHOST"
export Database__ApplyMigrations=false
pg_db() { printf 'Host=127.0.0.1;Port=%s;Username=%s;Database=agentbus' "${AGENTBUS_POSTGRES_PORT:-5432}" "$1"; }
pg_pw() { printf '%s/postgres/%s' "$SECRETS" "$1"; }

pipeline_log "starting the pipeline (logs in $STATE/logs)"
Sandbox__KeysDirectory="$SECRETS/tools" \
  pipeline_start sandbox-api AgentBus.SandboxApi agentbus-sandbox-api --urls http://127.0.0.1:5080
Database__ConnectionString="$(pg_db agentbus-policy)" Database__PasswordFile="$(pg_pw agentbus-policy)" \
RabbitMq__PasswordFile="$SECRETS/rabbitmq/agentbus-policy" Policy__File="$POLICY_FILE" \
  Policy__Signing__PrivateKeyFile="$SIGNING/policy-signing.key.pem" \
  pipeline_start policy AgentBus.Policy agentbus-policy --urls http://127.0.0.1:5101
Database__ConnectionString="$(pg_db agentbus-projections)" Database__PasswordFile="$(pg_pw agentbus-projections)" \
RabbitMq__PasswordFile="$SECRETS/rabbitmq/agentbus-projections" Audit__RedactionFile="$REPO/ops/audit/redaction.json" \
  pipeline_start projections AgentBus.Projections agentbus-projections --urls http://127.0.0.1:5103
# The inbox is served over plain HTTP on loopback here, so its session cookie cannot be Secure.
Database__ConnectionString="$(pg_db agentbus-approvals)" Database__PasswordFile="$(pg_pw agentbus-approvals)" \
RabbitMq__PasswordFile="$SECRETS/rabbitmq/agentbus-approvals" Approvals__SecureCookies=false Approvals__PolicyFile="$POLICY_FILE" \
  pipeline_start approvals AgentBus.Approvals agentbus-approvals --urls http://127.0.0.1:5104
# The operator console: its own login (agentbus-console: the auditor's reads plus the kill switch) and
# the operator broker user's password for dead letters and the audit events of its changes.
Database__ConnectionString="$(pg_db agentbus-console)" Database__PasswordFile="$(pg_pw agentbus-console)" \
RabbitMq__Host="$AGENTBUS_RABBITMQ_HOST" RabbitMq__Port="$AGENTBUS_RABBITMQ_PORT" RabbitMq__VirtualHost="$AGENTBUS_RABBITMQ_VHOST" \
Console__PolicyFile="$POLICY_FILE" Console__GatesFile="$REPO/ops/gates.yaml" Console__SecretsDirectory="$SECRETS" Console__SecureCookies=false \
Console__ManagementUrl="$AGENTBUS_RABBITMQ_MANAGEMENT_URL" Console__AnchorFile="$STATE/audit/anchors" \
  pipeline_start console AgentBus.OperatorConsole agentbus-console --urls http://127.0.0.1:5106
# The MCP gateway holds no credential of its own: an agent signs in with its own broker password, and
# the gateway publishes that agent's proposals on a broker login as that agent (docs/mcp.md).
Mcp__PolicyFile="$POLICY_FILE" Mcp__BrokerHost="$AGENTBUS_RABBITMQ_HOST" Mcp__BrokerPort="$AGENTBUS_RABBITMQ_PORT" \
Mcp__BrokerVirtualHost="$AGENTBUS_RABBITMQ_VHOST" Mcp__ApprovalsUrl=http://127.0.0.1:5104 \
  pipeline_start mcp AgentBus.Mcp agentbus-mcp --urls http://127.0.0.1:5105
# Each executor runs as its own system user (agentbus-exec-<tool>) from a home that holds only its
# tool's secret and its own passwords; it cannot read the shared secrets folder (docs/executors.md).
port=5111
declare -A executor_port
for tool in "${TOOLS[@]}"; do
  executor_port[$tool]=$port
  confine_executor_prepare "$tool" "$STATE" "$SECRETS" "$SIGNING/policy-signing.pub.pem" "$REPO/ops/tools/$tool.json" \
    "$(dirname "$(pipeline_dll AgentBus.Executor agentbus-executor)")" "$(pg_pw "agentbus-executor-$tool")" \
    "$( [[ -f "$REPO/ops/catalog/$tool.yaml" ]] && echo "$REPO/ops/catalog/$tool.yaml" )"
  Database__ConnectionString="$(pg_db "agentbus-executor-$tool")" \
    confine_executor_start "$tool" "$STATE" "$STATE/logs/executor-$tool.log" --urls "http://127.0.0.1:$port" \
    > "$STATE/run/executor-$tool.pid"
  port=$((port + 1))
done

on_exit() { stop_pipeline; }
trap on_exit EXIT
trap 'exit 130' INT TERM

pipeline_wait_ready sandbox-api http://127.0.0.1:5080/health
pipeline_wait_ready policy http://127.0.0.1:5101/health/ready
pipeline_wait_ready projections http://127.0.0.1:5103/health/ready
pipeline_wait_ready approvals http://127.0.0.1:5104/health/ready
pipeline_wait_ready mcp http://127.0.0.1:5105/health/ready
pipeline_wait_ready console http://127.0.0.1:5106/health/ready
for tool in "${TOOLS[@]}"; do
  pipeline_wait_ready "executor-$tool" "http://127.0.0.1:${executor_port[$tool]}/health/ready"
done
pipeline_log "pipeline ready: policy, projections, approvals, console, MCP gateway, executors for ${TOOLS[*]}, sandbox API"

# A demo approver for the inbox, created once; the token stays in the secrets folder (mode 600).
# A token file whose approver is gone (database reset, revoked) is replaced.
APPROVER=dana
APPROVER_TOKEN="$SECRETS/approvers/$APPROVER.token"
add_demo_approver() {
  agentbus_cli approvers add "$APPROVER" --group payments-approvers --token-file "$APPROVER_TOKEN" --policy "$POLICY_FILE" --postgres "$AGENTBUS_POSTGRES"
}
if ! add_demo_approver >> "$STATE/logs/setup.log" 2>&1; then
  rm -f "$APPROVER_TOKEN"
  agentbus_cli approvers revoke "$APPROVER" --postgres "$AGENTBUS_POSTGRES" >> "$STATE/logs/setup.log" 2>&1 || true
  add_demo_approver >> "$STATE/logs/setup.log"
fi

# A demo person for the operator console, operator and auditor, created once like the approver.
CONSOLE_USER=casey
CONSOLE_TOKEN="$SECRETS/approvers/$CONSOLE_USER.token"
add_console_user() {
  agentbus_cli approvers add "$CONSOLE_USER" --group console-operators --group console-auditors --token-file "$CONSOLE_TOKEN" \
    --policy "$POLICY_FILE" --postgres "$AGENTBUS_POSTGRES"
}
if ! add_console_user >> "$STATE/logs/setup.log" 2>&1; then
  rm -f "$CONSOLE_TOKEN"
  agentbus_cli approvers revoke "$CONSOLE_USER" --postgres "$AGENTBUS_POSTGRES" >> "$STATE/logs/setup.log" 2>&1 || true
  add_console_user >> "$STATE/logs/setup.log"
fi

demo_status=0
DEMO_RUN="demo-$(date -u +%Y%m%d-%H%M%S)"
AGENTBUS_APPROVALS_URL=http://127.0.0.1:5104 AGENTBUS_GATEWAY_URL=http://127.0.0.1:5105 AGENTBUS_DEMO_RUN_ID="$DEMO_RUN" \
  dotnet "$(pipeline_dll AgentBus.DemoAgent agentbus-demo-agent)" || demo_status=$?

# The demo undoes its own run, as an operator would after an agent did the wrong thing: the ticket is
# closed and the refund cancelled by undo-bot, through the policy; the comment cannot be undone and
# the large refund still waits for a person (exit 4: something waits; 1 would be a failure).
echo
echo "Rolling back run $DEMO_RUN (agentbus runs rollback; docs/operations.md, \"Undo what an agent did\"):"
rollback_status=0
agentbus_cli runs rollback "$DEMO_RUN" --reason "the demo undoes its own run" --operator demo --policy "$POLICY_FILE" \
  --approvals-url http://127.0.0.1:5104 --wait 60s || rollback_status=$?
if ((rollback_status != 0 && rollback_status != 4)); then
  pipeline_log "the demo's rollback failed (exit $rollback_status)"
  demo_status=1
fi

# The audit chain's head copied out of the database (after verifying it against the earlier copies):
# only such a copy catches a rewrite by whoever can change the database, its owner included. Here it
# is kept in the state folder; in production, run `audit anchor` on a schedule from another host.
ANCHORS="$STATE/audit/anchors"
AUDITOR_DB="$(pg_db agentbus-auditor);Password=$(cat "$(pg_pw agentbus-auditor)")" # read-only (agentbus_auditor)
if ! AGENTBUS_POSTGRES="$AUDITOR_DB" agentbus_cli audit anchor --out "$ANCHORS" >> "$STATE/logs/setup.log" 2>&1; then
  pipeline_log "warning: the audit chain was not anchored: it does not match $ANCHORS (see $STATE/logs/setup.log;" \
    "agentbus audit verify --anchor $ANCHORS names the row)"
fi

cat <<INFO

Where to look next
  Logs of every service        $STATE/logs/
  RabbitMQ management UI       $AGENTBUS_RABBITMQ_MANAGEMENT_URL  (user agentbus-operator, password in $SECRETS/rabbitmq/agentbus-operator)
  Audit log and run summaries  PGPASSWORD="\$(cat $SECRETS/postgres-agentbus.password)" psql -h 127.0.0.1 -p ${AGENTBUS_POSTGRES_PORT:-5432} -U agentbus agentbus
                               -> tables audit_events, run_summaries
  Operator console             http://127.0.0.1:5106/  sign in as $CONSOLE_USER (operator and auditor) with the token
                               $(cat "$CONSOLE_TOKEN")   (kept in $CONSOLE_TOKEN; docs/console.md)
  Approvals inbox              http://127.0.0.1:5104/inbox  (sign in as $APPROVER, payments-approvers: token in $APPROVER_TOKEN)
                               the refund above waits there; approve it and it runs, once (agentbus runs show RUN_ID)
  MCP gateway (any MCP client) http://127.0.0.1:5105/mcp  (Streamable HTTP; each agent signs in as itself:
                               Authorization: Basic base64(AGENT:PASSWORD), the password in $SECRETS/rabbitmq/AGENT), e.g.
                               claude mcp add --transport http agentbus http://127.0.0.1:5105/mcp \\
                                 --header "Authorization: Basic \$(printf 'support-bot:%s' "\$(cat $SECRETS/rabbitmq/support-bot)" | base64 -w0)"
                               on this machine (stdio): dotnet $(pipeline_dll AgentBus.Cli agentbus) mcp --agent support-bot \\
                                 --password-file $SECRETS/rabbitmq/support-bot --policy $POLICY_FILE
  Python and .NET agents       pip install $REPO/clients/python (clients/python/README.md) · AgentBus.Client: AsAIFunctions (docs/mcp.md)
  Operator CLI                 agentbus --help  ($CLI_LINK -> ops/agentbus: reads $STATE/env itself; --json on every report)
  Runs, audit, gates           agentbus runs list · agentbus runs show RUN_ID · agentbus audit verify --anchor $ANCHORS · agentbus gates
  Undo a run                   agentbus runs rollback RUN_ID --dry-run · agentbus actions unknown (docs/operations.md)
  Database logins              each service connects as its own (agentbus-policy, -projections, -approvals, -executor-TOOL;
                               agentbus-auditor reads only, agentbus-console also works the kill switch; passwords in
                               $SECRETS/postgres/); agentbus, the owner, is for
                               migrations and the CLI only
  The policy in force          $POLICY_FILE
  Operations agents may call   $REPO/ops/catalog  (agentbus tools list --policy $POLICY_FILE --agent support-bot; the shop's OpenAPI: http://127.0.0.1:5080/openapi.yaml)
  Health                       curl http://127.0.0.1:5101/health/ready  (policy; projections :5103, approvals :5104, MCP gateway :5105,
                               console :5106, executors :5111+)
  Stop everything              ops/down.sh
INFO

if ((once)); then
  exit "$demo_status"
fi

pipeline_log "the pipeline keeps running; Ctrl-C stops it (servers stay up; ops/down.sh stops them)"
while true; do
  for f in "$STATE"/run/*.pid; do
    pid="$(cat "$f")"
    if ! kill -0 "$pid" 2>/dev/null; then
      pipeline_log "$(basename "$f" .pid) stopped unexpectedly; last lines of its log:"
      tail -n 20 "$STATE/logs/$(basename "$f" .pid).log" | sed 's/^/  /' >&2
      exit 1
    fi
  done
  sleep 2
done
