#!/usr/bin/env bash
# The one-shot `setup` service of docker-compose.yml (runs as root, before every other AgentBus service):
#   1. generates each tool's secret once, into the secret store (tools/<tool>), with the agentbus CLI;
#   2. creates the database's group roles and one login per service (passwords into postgres/<login>) with
#      the administrator, applies the migrations as the owner, and the broker's vhost, users, permissions and
#      topology with the agentbus CLI, which generates every broker user's password into rabbitmq/<user>; generates the
#      policy service's signing key pair once (signing/); creates a demo approver once (approvers/);
#   3. hands each service a volume of its own holding only the secrets that service needs, owned by
#      the unprivileged user the services run as.
# Safe to run again: existing secrets are kept, migrations, `broker apply` and the approver are idempotent.
#
# Environment (set by docker-compose.yml):
#   AGENTBUS_SECRETS_DIR     the secret store, the CLI's layout (the `secrets` volume)
#   AGENTBUS_DELIVER_DIR     one folder per service, each a volume that service mounts read-only
#   AGENTBUS_POLICY_FILE     the policy whose agents and tools get broker users
#   AGENTBUS_POSTGRES (the owner), AGENTBUS_POSTGRES_ADMIN (CREATEROLE), AGENTBUS_RABBITMQ_MANAGEMENT_URL, AGENTBUS_RABBITMQ_ADMIN_USER,
#   AGENTBUS_RABBITMQ_ADMIN_PASSWORD, AGENTBUS_RABBITMQ_VHOST   read by the CLI itself
set -euo pipefail

store="${AGENTBUS_SECRETS_DIR:?}"
deliver="${AGENTBUS_DELIVER_DIR:?}"
policy="${AGENTBUS_POLICY_FILE:?}"
app_uid="${APP_UID:-1654}" # the aspnet image's `app` user, which every service runs as

log() { printf '[setup] %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

umask 077
cd /app

# 1. tool secrets, shared only by the tool's executor and the sandbox system of record
log "generating missing tool secrets"
dotnet agentbus.dll secrets init --policy "$policy"

# 2. database roles and the services' logins (cluster-wide), schema, then broker users and topology
log "creating database roles and the services' logins"
dotnet agentbus.dll db roles --logins --policy "$policy"
log "applying database migrations"
dotnet agentbus.dll db migrate
log "applying broker users, permissions and topology ($policy)"
dotnet agentbus.dll broker apply --policy "$policy"

# The policy service signs every ExecuteTool; executors trust only its public key.
if [[ ! -s "$store/signing/policy-signing.key.pem" || ! -s "$store/signing/policy-signing.pub.pem" ]]; then
  log "generating the policy service's signing key pair"
  dotnet agentbus.dll keys generate --out "$store/signing" --force
fi

# A demo approver for the inbox (group payments-approvers in ops/policies/policy.yaml), once. A token
# file whose approver is gone (the database was reset) is replaced.
approver=dana
approver_token="$store/approvers/$approver.token"
add_approver() { dotnet agentbus.dll approvers add "$approver" --group payments-approvers --token-file "$approver_token"; }
if ! add_approver; then
  log "replacing the demo approver's token"
  rm -f "$approver_token"
  dotnet agentbus.dll approvers revoke "$approver" || true
  add_approver
fi

# A demo person for the operator console, operator and auditor, once (like the approver above).
console_user=casey
console_token="$store/approvers/$console_user.token"
add_console_user() { dotnet agentbus.dll approvers add "$console_user" --group console-operators --group console-auditors --token-file "$console_token"; }
if ! add_console_user; then
  log "replacing the console demo person's token"
  rm -f "$console_token"
  dotnet agentbus.dll approvers revoke "$console_user" || true
  add_console_user
fi

# 3. each service's own secrets
deliver_to() { # service relative-path...
  local dir="$deliver/$1" rel
  shift
  for rel in "$@"; do
    [[ -s "$store/$rel" ]] || die "$rel is not in the secret store (is it in $policy?)"
    mkdir -p "$dir/$(dirname "$rel")"
    install -m 0400 -o "$app_uid" -g "$app_uid" "$store/$rel" "$dir/$rel.tmp"
    mv -f "$dir/$rel.tmp" "$dir/$rel"
  done
  chown -R "$app_uid:$app_uid" "$dir"
  find "$dir" -type d -exec chmod 0500 {} +
}

shopt -s nullglob
services=("$deliver"/*/)
((${#services[@]} > 0)) || die "no service folders under $deliver"
for dir in "${services[@]}"; do
  service="$(basename "$dir")"
  case "$service" in
    policy)
      deliver_to "$service" rabbitmq/agentbus-policy postgres/agentbus-policy signing/policy-signing.key.pem
      ;;
    projections | approvals)
      deliver_to "$service" "rabbitmq/agentbus-$service" "postgres/agentbus-$service"
      ;;
    console)
      # The operator's broker user (dead letters, the audit events of its changes) and the rollback
      # identity's (it proposes compensations as undo-bot, ops/policies/policy.yaml).
      deliver_to "$service" rabbitmq/agentbus-operator postgres/agentbus-console rabbitmq/undo-bot
      ;;
    executor-*)
      tool="${service#executor-}"
      deliver_to "$service" "rabbitmq/agentbus-executor-$tool" "postgres/agentbus-executor-$tool" "tools/$tool" signing/policy-signing.pub.pem
      ;;
    sandbox-api)
      deliver_to "$service" tools/ticketing tools/payments
      ;;
    demo-agent)
      # every agent's password: broker users without the reserved agentbus- prefix
      agents=()
      for file in "$store"/rabbitmq/*; do
        name="$(basename "$file")"
        [[ "$name" == agentbus-* || "$name" == *.tmp ]] || agents+=("rabbitmq/$name")
      done
      ((${#agents[@]} > 0)) || die "no agent passwords in $store/rabbitmq"
      deliver_to "$service" "${agents[@]}"
      ;;
    *)
      die "no secrets are defined for service folder $dir (ops/compose/setup.sh)"
      ;;
  esac
  log "secrets for $service: $(cd "$dir" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ')"
done
# The audit chain's head, copied out of the database after checking it against the earlier copies
# (docs/audit.md). A mismatch is reported, not fatal: the stack still starts, and
# `agentbus audit verify --anchor` names the row.
anchors="$store/audit/anchors"
if ! dotnet agentbus.dll audit anchor --out "$anchors"; then
  log "WARNING: the audit chain does not match $anchors: run agentbus audit verify --anchor $anchors"
fi
log "done"
