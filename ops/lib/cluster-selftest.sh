#!/usr/bin/env bash
# Self-test of ops/lib/cluster.sh (for CI): up from nothing, up again (must change nothing), a quorum
# queue written through one node and read through another, then for node 1 and node 2 in turn: SIGKILL
# it, the queue still works through the other two, start it, it rejoins and serves again; then
# down --purge, after which no VM of the test may run. Exit 0 only if all of that holds.
#
#   ops/lib/cluster-selftest.sh           the run (66–82 s on 2 shared cores)
#   ops/lib/cluster-selftest.sh --keep    leave the cluster running at the end (stop: cluster.sh down --purge)
#
# It runs its own cluster on its own state folder and ports, never the shared servers:
#   AGENTBUS_STATE_DIR                  default /tmp/agentbus-cluster-selftest (must not exist yet)
#   AGENTBUS_CLUSTER_AMQP_BASE          default 5792 (5792-5794); management base 15792, dist base 25792
#   AGENTBUS_POSTGRES_PORT              default 5552
set -euo pipefail

LIB_DIR="$(cd "$(dirname "$0")" && pwd)"
CLUSTER="$LIB_DIR/cluster.sh"
log() { printf '[cluster-selftest] %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

keep=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    -h | --help)
      sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
      exit 0
      ;;
    *) die "unknown argument '$arg' (only --keep)" ;;
  esac
done

export AGENTBUS_STATE_DIR="${AGENTBUS_STATE_DIR:-/tmp/agentbus-cluster-selftest}"
export AGENTBUS_CLUSTER_AMQP_BASE="${AGENTBUS_CLUSTER_AMQP_BASE:-5792}"
export AGENTBUS_CLUSTER_MANAGEMENT_BASE="${AGENTBUS_CLUSTER_MANAGEMENT_BASE:-15792}"
export AGENTBUS_POSTGRES_PORT="${AGENTBUS_POSTGRES_PORT:-5552}"
STATE="${AGENTBUS_STATE_DIR%/}"
[[ ! -e "$STATE" ]] || die "$STATE exists: a cluster of someone else's or a kept run? (cluster.sh down --purge, or another AGENTBUS_STATE_DIR)"

# Debian's python3-pika lives with /usr/bin/python3 (the first python3 on PATH may lack it)
PY=python3
for p in /usr/bin/python3 python3; do
  if "$p" -c 'import pika' 2>/dev/null; then PY="$p"; break; fi
done
"$PY" -c 'import pika' 2>/dev/null || die "python3-pika is missing (apt-get install -y python3-pika)"

# the VMs of this test's state folder (beam.smp processes found by their environment)
test_vms() {
  local pid
  for pid in $(pgrep -x beam.smp 2>/dev/null || true); do
    # server VMs only (rabbitmqctl runs a beam.smp with the same environment)
    [[ "$( (tr '\0' ' ' <"/proc/$pid/cmdline") 2>/dev/null || true)" == *" -s rabbit boot "* ]] || continue
    if (tr '\0' '\n' <"/proc/$pid/environ") 2>/dev/null | grep -q "^RABBITMQ_MNESIA_BASE=$STATE/"; then echo "$pid"; fi
  done
}

# shellcheck disable=SC2317 # called by the EXIT trap
finish() {
  local rc=$?
  if ((keep)); then
    log "--keep: cluster left running; stop it with: AGENTBUS_STATE_DIR=$STATE AGENTBUS_CLUSTER_AMQP_BASE=$AGENTBUS_CLUSTER_AMQP_BASE AGENTBUS_CLUSTER_MANAGEMENT_BASE=$AGENTBUS_CLUSTER_MANAGEMENT_BASE AGENTBUS_POSTGRES_PORT=$AGENTBUS_POSTGRES_PORT $CLUSTER down --purge"
  elif [[ -d "$STATE" ]]; then
    "$CLUSTER" down --purge </dev/null || log "could not stop the test cluster in $STATE"
  fi
  if ((rc == 0)); then log "PASS (${SECONDS}s)"; else log "FAIL (exit $rc)"; fi
}
trap finish EXIT

# AMQP through one node: declare the quorum queue, then publish (with confirms) or consume exactly
QPY='
import sys, time, pika
action, port, user, password, queue, tag, count = sys.argv[1:8]
port, count = int(port), int(count)
params = pika.ConnectionParameters("127.0.0.1", port, "/", pika.PlainCredentials(user, password),
                                   connection_attempts=5, retry_delay=1, socket_timeout=5,
                                   blocked_connection_timeout=30)
conn = pika.BlockingConnection(params)
ch = conn.channel()
ch.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
expected = ["%s-%d" % (tag, i) for i in range(count)]
if action == "publish":
    ch.confirm_delivery()
    for body in expected:
        ch.basic_publish("", queue, body.encode(), pika.BasicProperties(delivery_mode=2), mandatory=True)
else:
    got, deadline = [], time.time() + 30
    while len(got) < count and time.time() < deadline:
        method, _, body = ch.basic_get(queue, auto_ack=False)
        if method is None:
            time.sleep(0.2)
            continue
        got.append(body.decode())
        ch.basic_ack(method.delivery_tag)
    if got != expected:
        print("expected %d messages %s-0.., got %d: %s" % (count, tag, len(got), got[:5]), file=sys.stderr)
        sys.exit(1)
conn.close()
'

port_of() { echo $((AGENTBUS_CLUSTER_AMQP_BASE + $1 - 1)); }

# through node A publish COUNT messages tagged TAG, through node B read exactly those
roundtrip() { # A B TAG COUNT
  local a="$1" b="$2" tag="$3" count="$4"
  timeout 90 "$PY" -c "$QPY" publish "$(port_of "$a")" "$AGENTBUS_RABBITMQ_ADMIN_USER" "$AGENTBUS_RABBITMQ_ADMIN_PASSWORD" \
    selftest-quorum "$tag" "$count" || die "publish of $count messages ($tag) through node $a failed"
  timeout 90 "$PY" -c "$QPY" consume "$(port_of "$b")" "$AGENTBUS_RABBITMQ_ADMIN_USER" "$AGENTBUS_RABBITMQ_ADMIN_PASSWORD" \
    selftest-quorum "$tag" "$count" || die "reading $count messages ($tag) through node $b failed"
  log "ok: $count messages ($tag) published through node $a, read through node $b"
}

# the quorum queue's members that are online, from a live node's management API
queue_online() { # node
  curl -s -f --max-time 5 -K - "http://127.0.0.1:$((AGENTBUS_CLUSTER_MANAGEMENT_BASE + $1 - 1))/api/queues/%2F/selftest-quorum" \
    <<<"user = \"$AGENTBUS_RABBITMQ_ADMIN_USER:$AGENTBUS_RABBITMQ_ADMIN_PASSWORD\"" 2>/dev/null |
    "$PY" -c 'import json, sys; q = json.load(sys.stdin); print(q.get("type"), len(q.get("members") or []), len(q.get("online") or []))' 2>/dev/null || true
}

wait_queue_online() { # node expected("quorum 3 3")
  local deadline=$((SECONDS + 60)) got=""
  while ((SECONDS < deadline)); do
    got="$(queue_online "$1")"
    [[ "$got" == "$2" ]] && return 0
    sleep 0.5
  done
  die "queue selftest-quorum seen from node $1: '$got' (type members online), expected '$2'"
}

# ---------------------------------------------------------------------------------------------

log "cluster on $STATE, AMQP $AGENTBUS_CLUSTER_AMQP_BASE-$((AGENTBUS_CLUSTER_AMQP_BASE + 2)), PostgreSQL $AGENTBUS_POSTGRES_PORT"
t0=$SECONDS
"$CLUSTER" up </dev/null || die "cluster.sh up failed"
log "ok: up from nothing in $((SECONDS - t0))s"

vms_before="$(test_vms | sort)"
[[ "$(wc -l <<<"$vms_before")" == 3 ]] || die "expected 3 VMs after up, found: $vms_before"
t0=$SECONDS
"$CLUSTER" up </dev/null || die "second cluster.sh up failed"
[[ "$(test_vms | sort)" == "$vms_before" ]] || die "a second up restarted VMs"
log "ok: second up changed nothing ($((SECONDS - t0))s)"

"$CLUSTER" status || die "status after up is not 0"

# shellcheck source=/dev/null
. "$STATE/env"
[[ "$AGENTBUS_RABBITMQ_ENDPOINTS" == "127.0.0.1:$(port_of 1),127.0.0.1:$(port_of 2),127.0.0.1:$(port_of 3)" ]] ||
  die "AGENTBUS_RABBITMQ_ENDPOINTS is '$AGENTBUS_RABBITMQ_ENDPOINTS'"
[[ "$AGENTBUS_RABBITMQ_PORT" == "$(port_of 1)" ]] || die "AGENTBUS_RABBITMQ_PORT is '$AGENTBUS_RABBITMQ_PORT', not node 1's"
IFS=, read -r -a node_names <<<"$AGENTBUS_RABBITMQ_NODES"
((${#node_names[@]} == 3)) || die "AGENTBUS_RABBITMQ_NODES is '$AGENTBUS_RABBITMQ_NODES'"
log "ok: env names 3 endpoints and nodes ${node_names[*]}"
[[ "$(curl -s -o /dev/null -w '%{http_code}' -u guest:guest "http://127.0.0.1:$AGENTBUS_CLUSTER_MANAGEMENT_BASE/api/whoami")" == 401 ]] ||
  die "user guest still logs in"

roundtrip 2 3 initial 200
wait_queue_online 1 "quorum 3 3"
log "ok: selftest-quorum is a quorum queue with 3 members online"

for victim in 1 2; do
  others=()
  for n in 1 2 3; do ((n == victim)) || others+=("$n"); done
  "$CLUSTER" kill "$victim" </dev/null || die "kill $victim failed"
  [[ -z "$(test_vms | while read -r pid; do
    (tr '\0' '\n' <"/proc/$pid/environ") 2>/dev/null | grep -x "RABBITMQ_NODENAME=${node_names[victim - 1]}" || true
  done)" ]] || die "node $victim still runs after kill"
  if "$CLUSTER" status >/dev/null; then die "status is 0 with node $victim killed"; fi
  log "ok: node $victim killed, status says so"
  roundtrip "${others[0]}" "${others[1]}" "without-$victim" 200
  roundtrip "${others[1]}" "${others[0]}" "without-$victim-back" 50

  t0=$SECONDS
  "$CLUSTER" start "$victim" </dev/null || die "start $victim failed"
  "$CLUSTER" status || die "status after start $victim is not 0"
  log "ok: node $victim rejoined in $((SECONDS - t0))s"
  wait_queue_online "${others[0]}" "quorum 3 3"
  roundtrip "$victim" "${others[1]}" "after-$victim" 100
done

if ((keep)); then exit 0; fi
t0=$SECONDS
"$CLUSTER" down --purge </dev/null || die "down --purge failed"
left="$(test_vms)"
[[ -z "$left" ]] || die "beam.smp still running after down --purge: $left"
[[ ! -e "$STATE" ]] || die "$STATE still exists after down --purge"
log "ok: down --purge in $((SECONDS - t0))s, no VM left, state folder gone"
