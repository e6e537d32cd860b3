#!/usr/bin/env bash
# Creates or updates each AgentBus service's Secret from a secret store in the agentbus CLI's layout
# (rabbitmq/<user>, postgres/<login>, tools/<tool>, signing/), the one the setup Job fills. Each
# Secret holds only what its service needs, as ops/compose/setup.sh delivers it under compose; the
# key names are the ones the Deployments mount (base/*.yaml, `items`).
#   deploy/kubernetes/secrets.sh STORE              kubectl apply into namespace agentbus
#   deploy/kubernetes/secrets.sh STORE --print      print the Secrets instead (e.g. to seal them)
# Environment: AGENTBUS_NAMESPACE (agentbus), AGENTBUS_TOOLS (ticketing payments: one executor each).
set -euo pipefail

store="${1:?usage: secrets.sh STORE [--print]}"
print="${2:-}"
namespace="${AGENTBUS_NAMESPACE:-agentbus}"
read -r -a tools <<< "${AGENTBUS_TOOLS:-ticketing payments}"

# secret NAME KEY=RELATIVE-PATH...
secret() {
  local name="$1" pair args=()
  shift
  for pair in "$@"; do
    [[ -s "$store/${pair#*=}" ]] || { echo "secrets.sh: $store/${pair#*=} is missing or empty (did setup run?)" >&2; exit 1; }
    args+=("--from-file=${pair%%=*}=$store/${pair#*=}")
  done
  if [[ "$print" == --print ]]; then
    echo "---"
    kubectl -n "$namespace" create secret generic "$name" "${args[@]}" --dry-run=client -o yaml
  else
    kubectl -n "$namespace" create secret generic "$name" "${args[@]}" --dry-run=client -o yaml | kubectl apply -f -
  fi
}

secret agentbus-policy rabbitmq-password=rabbitmq/agentbus-policy postgres-password=postgres/agentbus-policy \
  policy-signing-key=signing/policy-signing.key.pem
secret agentbus-projections rabbitmq-password=rabbitmq/agentbus-projections postgres-password=postgres/agentbus-projections
secret agentbus-approvals rabbitmq-password=rabbitmq/agentbus-approvals postgres-password=postgres/agentbus-approvals
# the operator's broker user and the rollback identity's (it proposes compensations as undo-bot)
secret agentbus-console rabbitmq-operator-password=rabbitmq/agentbus-operator postgres-password=postgres/agentbus-console \
  rabbitmq-undo-bot-password=rabbitmq/undo-bot
for tool in "${tools[@]}"; do
  secret "agentbus-executor-$tool" "rabbitmq-password=rabbitmq/agentbus-executor-$tool" \
    "postgres-password=postgres/agentbus-executor-$tool" "tool-secret=tools/$tool" \
    policy-signing-public-key=signing/policy-signing.pub.pem
done
