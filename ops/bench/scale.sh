#!/usr/bin/env bash
# Throughput against the number of instances (issue 19, "several of everything"): the load harness
# (bench/AgentBus.LoadHarness) on a private three-node RabbitMQ cluster (quorum queues) with
# PostgreSQL fsync on, once per pair of N policy instances and M executor copies, always with two
# projections copies; then one markdown table of actions/s (throughput phase), p50/p99 and CPU ms
# per action per pair, with the conditions.
#
#   ops/bench/scale.sh                                   the default grid 1x1,1x2,1x4,2x1,2x2,2x4 (~15 min on 2 cores)
#   ops/bench/scale.sh --grid "1x1,2x2,4x4"              NxM pairs: N policy instances x M executor copies
#   ops/bench/scale.sh --projections 1                   projections copies (default 2)
#   ops/bench/scale.sh --keep                            leave the cluster running afterwards
#   ops/bench/scale.sh --throughput 20000 --window 400   anything else goes to the harness (its --help lists it)
#
# Harness arguments default to a short point (--warmup 500 --throughput 3000 --rates '' --ceiling 0
# --timeout 900); those given here come after them and win. --policy-instances, --executors and
# --projections are the grid's and are refused as harness arguments.
#
# Serialise it with other heavy runs on the machine: flock -o /tmp/agentbus-bench.lock ops/bench/scale.sh
# (-o, or the cluster's servers it starts inherit the lock and hold it as long as they run).
#
# Environment (all optional; the defaults keep clear of the shared servers, the chaos cluster and
# the cluster self-test, which may run on this machine at the same time):
#   AGENTBUS_STATE_DIR                 cluster state (default /tmp/agentbus-scale; deleted at the end unless --keep)
#   AGENTBUS_CLUSTER_AMQP_BASE         AMQP port of node 1 (default 5992; nodes 2, 3: +1, +2)
#   AGENTBUS_CLUSTER_MANAGEMENT_BASE   management port of node 1 (default 15992)
#   AGENTBUS_POSTGRES_PORT             PostgreSQL port (default 5652)
#   AGENTBUS_SCALE_REPORTS             where each point's full report and the table go
#                                      (default /tmp/agentbus-scale-reports/<UTC time>; kept after the run)
#   AGENTBUS_CONFIGURATION             build (default Release)
# Everything runs on 127.0.0.1 (the harness refuses any other server). Each point stops by itself
# (--timeout); the cluster is stopped and purged on every exit path, Ctrl-C included, unless --keep.
set -euo pipefail

OPS_DIR="$(cd "$(dirname "$0")/.." && pwd)"
CLUSTER="$OPS_DIR/lib/cluster.sh"
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2; }
die_usage() { printf 'scale.sh: %s (--help: usage)\n' "$*" >&2; exit 64; }

grid="1x1,1x2,1x4,2x1,2x2,2x4" projections=2 keep=0 harness_args=()
# Each point short enough that the default grid ends in about 15 minutes here (~45 actions/s on the cluster).
point_defaults=(--warmup 500 --throughput 3000 --rates '' --ceiling 0 --timeout 900)
while (($#)); do
  case "$1" in
    --grid) (($# >= 2)) || die_usage "--grid takes pairs like 1x1,1x2,2x2"; grid="$2"; shift 2 ;;
    --projections)
      (($# >= 2)) || die_usage "--projections takes a number"
      [[ "$2" =~ ^[1-8]$ ]] || die_usage "--projections takes 1 to 8, not '$2'"
      projections="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --policy-instances | --executors) die_usage "$1 is set by --grid (NxM: N policy instances, M executor copies)" ;;
    *) harness_args+=("$1"); shift ;;
  esac
done

# The harness allows 1-8 policy instances and 1-16 executor copies; say so before any server starts.
pairs=()
IFS=',' read -r -a grid_items <<<"$grid"
for item in "${grid_items[@]}"; do
  item="${item// /}"
  [[ -n "$item" ]] || continue
  n=0 m=0
  if [[ "$item" =~ ^([0-9]{1,3})x([0-9]{1,3})$ ]]; then n=$((10#${BASH_REMATCH[1]})) m=$((10#${BASH_REMATCH[2]})); fi
  ((n >= 1 && n <= 8 && m >= 1 && m <= 16)) ||
    die_usage "--grid: '$item' is not NxM with N (policy instances) 1-8 and M (executor copies) 1-16"
  pairs+=("${n}x$m")
done
((${#pairs[@]})) || die_usage "--grid names no pair"

export AGENTBUS_STATE_DIR="${AGENTBUS_STATE_DIR:-/tmp/agentbus-scale}"
export AGENTBUS_CLUSTER_AMQP_BASE="${AGENTBUS_CLUSTER_AMQP_BASE:-5992}"
export AGENTBUS_CLUSTER_MANAGEMENT_BASE="${AGENTBUS_CLUSTER_MANAGEMENT_BASE:-15992}"
export AGENTBUS_POSTGRES_PORT="${AGENTBUS_POSTGRES_PORT:-5652}"
# the targets are stated for a durable database: a cluster left with fsync off is restarted with it on
export AGENTBUS_PG_FSYNC=on
STATE="${AGENTBUS_STATE_DIR%/}"
[[ "$STATE" != /var/lib/agentbus ]] || die_usage "AGENTBUS_STATE_DIR must not be the shared servers' /var/lib/agentbus"

REPORTS="${AGENTBUS_SCALE_REPORTS:-/tmp/agentbus-scale-reports/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$REPORTS/logs"
# shellcheck source=../lib/pipeline.sh
. "$OPS_DIR/lib/pipeline.sh"
# shellcheck source=../lib/load-report.sh
. "$OPS_DIR/lib/load-report.sh"
# The build log goes with the reports: the cluster's state folder is purged at the end.
PIPELINE_STATE="$REPORTS"

pipeline_build
harness_dll="$(pipeline_dll AgentBus.LoadHarness agentbus-load-harness)"

# A misspelt harness option should fail now, not after the cluster is up: the harness checks option
# names before anything else and answers a trailing --help with its usage text only if all of them held.
preflight="$(env -i PATH="$PATH" HOME="${HOME:-/root}" DOTNET_NOLOGO=1 dotnet "$harness_dll" \
  "${point_defaults[@]}" "${harness_args[@]}" --help 2>&1 || true)"
if [[ "$preflight" != agentbus-load-harness:* ]]; then
  printf 'scale.sh: the harness refuses these arguments: %s\n' "${harness_args[*]}" >&2
  printf '%s\n' "$preflight" | head -n 1 >&2
  exit 64
fi
# shellcheck disable=SC2317 # runs from the EXIT trap
finish() {
  local rc=$?
  if ((keep)); then
    pipeline_log "--keep: the cluster runs on; stop it with: AGENTBUS_STATE_DIR=$STATE AGENTBUS_CLUSTER_AMQP_BASE=$AGENTBUS_CLUSTER_AMQP_BASE AGENTBUS_CLUSTER_MANAGEMENT_BASE=$AGENTBUS_CLUSTER_MANAGEMENT_BASE AGENTBUS_POSTGRES_PORT=$AGENTBUS_POSTGRES_PORT $CLUSTER down --purge"
  elif [[ -d "$STATE" ]]; then
    "$CLUSTER" down --purge </dev/null || pipeline_log "could not stop the cluster in $STATE"
  fi
  exit "$rc"
}
trap finish EXIT
# The harness runs in the background so a signal is handled now, not after the point ends; it gets
# SIGTERM and cleans up its vhost, database and services before the cluster goes down.
harness_pid=""
# shellcheck disable=SC2317 # runs from the INT and TERM traps
on_signal() {
  if [[ -n "$harness_pid" ]]; then
    kill -TERM "$harness_pid" 2>/dev/null || true
    wait "$harness_pid" 2>/dev/null || true
  fi
  exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

"$CLUSTER" up
# shellcheck disable=SC1091
. "$STATE/env"
export AGENTBUS_SECRETS_DIR="$STATE/secrets"
[[ -n "${AGENTBUS_RABBITMQ_ENDPOINTS:-}" ]] || { pipeline_log "$STATE/env names no cluster (AGENTBUS_RABBITMQ_ENDPOINTS)"; exit 1; }

build="$PIPELINE_CONFIGURATION $(git -C "$PIPELINE_REPO" rev-parse --short=12 HEAD)$(git -C "$PIPELINE_REPO" diff --quiet HEAD || echo '+changes')"
# Other RabbitMQ VMs on the machine (another engineer's cluster, say) share the cores: the table says how many.
other_vms=0
for pid in $(pgrep -x beam.smp || true); do
  cmdline="$( (tr '\0' ' ' <"/proc/$pid/cmdline") 2>/dev/null || true)"
  [[ "$cmdline" == *" -s rabbit boot "* ]] || continue
  (tr '\0' '\n' <"/proc/$pid/environ") 2>/dev/null | grep -q "^RABBITMQ_MNESIA_BASE=$STATE/" || other_vms=$((other_vms + 1))
done

failed=0 rows=()
for pair in "${pairs[@]}"; do
  policies="${pair%x*}" executors="${pair#*x}"
  pipeline_log "point $pair: $policies policy instance(s), $executors executor copies, $projections projections"
  rc=0
  # each harness run provisions and drops its own vhost and database on the cluster
  dotnet "$harness_dll" "${point_defaults[@]}" "${harness_args[@]}" \
    --policy-instances "$policies" --executors "$executors" --projections "$projections" \
    >"$REPORTS/$pair.md" 2>"$REPORTS/$pair.log" &
  harness_pid=$!
  wait "$harness_pid" || rc=$?
  harness_pid=""
  if ((rc == 2)); then
    cat "$REPORTS/$pair.log" >&2
    exit 64
  fi
  line="$(load_report_phases "$REPORTS/$pair.md" | awk -F'\t' '$1 == "throughput"' | head -n 1)"
  note="ok"
  ((rc == 0)) || { note="PROBLEMS (exit $rc; $REPORTS/$pair.md)"; failed=1; }
  if [[ -z "$line" ]]; then
    rows+=("| $policies | $executors | — | — | — | — | — | no throughput figures ($REPORTS/$pair.log) |")
    failed=1
    continue
  fi
  IFS=$'\t' read -r _ rate p50 p99 cpu load <<<"$line"
  rows+=("| $policies | $executors | $rate | $p50 | $p99 | $cpu | $load | $note |")
  pipeline_log "  $rate actions/s, p50 $p50 ms, p99 $p99 ms, $cpu CPU ms/action"
done

rabbit="$(grep -m1 -o 'RabbitMQ [0-9.]*' "$REPORTS/${pairs[0]}.md" || echo 'RabbitMQ ?')"
postgres="$(grep -m1 -o 'PostgreSQL [0-9.]*' "$REPORTS/${pairs[0]}.md" || echo 'PostgreSQL ?')"
{
  echo
  echo "## Throughput against policy instances (N) and executor copies (M), $projections projections, three-node cluster"
  echo
  echo "Conditions: $(nproc) cores ($(awk '/MemTotal/ { printf "%.0f GB RAM", $2 / 1048576 }' /proc/meminfo)), everything on this machine;"
  echo "$rabbit, 3 nodes on 127.0.0.1:$AGENTBUS_CLUSTER_AMQP_BASE-$((AGENTBUS_CLUSTER_AMQP_BASE + 2)), quorum queues, publisher confirms;"
  echo "$postgres with fsync on; $build build; other RabbitMQ VMs running on the machine: $other_vms."
  echo "Harness arguments per point: $(printf '%q ' "${point_defaults[@]}" "${harness_args[@]}"); $(date -u +'%Y-%m-%d %H:%M') UTC."
  echo
  echo "| N policy | M executors | actions/s | p50 ms | p99 ms | CPU ms/action | load before → after | run |"
  echo "|---:|---:|---:|---:|---:|---:|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Full reports: $REPORTS"
} | tee "$REPORTS/table.md"
exit "$failed"
