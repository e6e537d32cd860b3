#!/usr/bin/env bash
# The end-to-end load run (bench/AgentBus.LoadHarness) under the conditions the targets name:
# PostgreSQL with fsync on, durable queues, publisher confirms, Release builds, every service its
# own process on this machine. Arguments go to the harness (--help lists them), e.g.
#
#   ops/bench/load.sh                                   warm-up, throughput, latency at 500/s, broker ceiling
#   ops/bench/load.sh --rates 100,250,500 --rate-seconds 60
#   ops/bench/load.sh --throughput 0 --rates '' --ceiling 0 --soak-minutes 10 --soak-rate 100
#
# Against a baseline, in one invocation (figures on this machine move by a third from run to run,
# so only ratios taken back to back mean much):
#
#   ops/bench/load.sh --baseline origin/main [--rounds 2] --throughput 5000 --rates 10 --ceiling 0
#
# builds the baseline commit in a worktree under $AGENTBUS_STATE_DIR/bench, runs the same harness
# arguments on the baseline and on this checkout (alternating, --rounds times), and prints both
# figures per phase and their ratio: actions/s, p50 and p99, and CPU ms per action (all processes),
# then the floor each harness measured before its first latency phase (one RabbitMQ hop and one
# PostgreSQL commit with nothing of AgentBus between; --floor-samples, which a baseline older than
# that option does not accept, so leave it at its default there).
#
# Servers: those of ops/run.sh and ops/test.sh ($AGENTBUS_STATE_DIR, default /var/lib/agentbus);
# a running PostgreSQL with fsync off (ops/test.sh leaves it so) is restarted with fsync on.
# The run provisions its own vhost and database and drops them afterwards.
set -euo pipefail

OPS_DIR="$(cd "$(dirname "$0")/.." && pwd)"
AGENTBUS_CONFIGURATION="${AGENTBUS_CONFIGURATION:-Release}"
# shellcheck source=../lib/pipeline.sh
. "$OPS_DIR/lib/pipeline.sh"
# shellcheck source=../lib/load-report.sh
. "$OPS_DIR/lib/load-report.sh"
STATE="$PIPELINE_STATE"
mkdir -p "$STATE/logs"

baseline="" rounds=1 harness_args=()
while (($#)); do
  case "$1" in
    --baseline) baseline="${2:?--baseline takes a commit, branch or tag}"; shift 2 ;;
    --rounds)
      rounds="${2:?--rounds takes a number}"
      [[ "$rounds" =~ ^[1-9]$ ]] || { echo "--rounds takes 1 to 9" >&2; exit 64; }
      shift 2 ;;
    *) harness_args+=("$1"); shift ;;
  esac
done

AGENTBUS_PG_FSYNC="${AGENTBUS_PG_FSYNC:-on}" "$OPS_DIR/lib/servers.sh" up
# shellcheck disable=SC1091
. "$STATE/env"
export AGENTBUS_SECRETS_DIR="${AGENTBUS_SECRETS_DIR:-$STATE/secrets}"
pipeline_build

if [[ -z "$baseline" ]]; then
  exec dotnet "$(pipeline_dll AgentBus.LoadHarness agentbus-load-harness)" "${harness_args[@]}"
fi

commit="$(git -C "$PIPELINE_REPO" rev-parse --verify --quiet "$baseline^{commit}")" \
  || { echo "--baseline $baseline: no such commit in $PIPELINE_REPO" >&2; exit 64; }
worktree="$STATE/bench/baseline-${commit:0:12}"
if [[ ! -d "$worktree" ]]; then
  mkdir -p "$STATE/bench"
  # A state folder removed by hand leaves its worktree registered but missing: forget those first.
  git -C "$PIPELINE_REPO" worktree prune
  git -C "$PIPELINE_REPO" worktree add --detach "$worktree" "$commit" > /dev/null
fi
pipeline_log "building the baseline ${commit:0:12} in $worktree"
dotnet build "$worktree/AgentBus.sln" -c "$PIPELINE_CONFIGURATION" -nologo -v quiet > "$STATE/logs/build-baseline.log" 2>&1 \
  || { grep -E 'error' "$STATE/logs/build-baseline.log" | sort -u | head -n 20 >&2; exit 1; }
config="$(echo "$PIPELINE_CONFIGURATION" | tr '[:upper:]' '[:lower:]')"
baseline_dll="$worktree/artifacts/bin/AgentBus.LoadHarness/$config/agentbus-load-harness.dll"
current_dll="$(pipeline_dll AgentBus.LoadHarness agentbus-load-harness)"
current="$(git -C "$PIPELINE_REPO" rev-parse --short=12 HEAD)$(git -C "$PIPELINE_REPO" diff --quiet HEAD || echo '+changes')"

out="$STATE/logs/load-compare-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
for ((round = 1; round <= rounds; round++)); do
  for shape in baseline current; do
    dll="$baseline_dll"; [[ "$shape" == current ]] && dll="$current_dll"
    pipeline_log "round $round/$rounds: $shape"
    # Each harness starts the services built next to itself, so each shape runs its own code.
    (cd "$([[ "$shape" == current ]] && echo "$PIPELINE_REPO" || echo "$worktree")" \
      && dotnet "$dll" "${harness_args[@]}") | tee "$out/$shape-$round.md"
  done
done

# Per phase: actions/s to the outcome, p50, p99 and CPU ms per action, averaged over the rounds.
for shape in baseline current; do
  for f in "$out/$shape"-*.md; do load_report_phases "$f"; done \
    | awk -F'\t' '{ k = $1; if (!(k in n)) order[++m] = k; n[k]++; r[k] += $2; a[k] += $3; b[k] += $4; c[k] += $5 }
                  END { for (i = 1; i <= m; i++) { k = order[i]; printf "%s\t%.1f\t%.2f\t%.2f\t%.2f\n", k, r[k]/n[k], a[k]/n[k], b[k]/n[k], c[k]/n[k] } }' \
    > "$out/$shape.tsv"
done

{
  echo
  echo "## Baseline ${commit:0:12} against $current ($rounds round(s) each, alternating; $(nproc) cores; same servers, fsync ${AGENTBUS_PG_FSYNC:-on})"
  echo
  echo "Harness arguments: ${harness_args[*]:-(defaults)}"
  echo
  echo "| phase | actions/s before → after | ratio | p50 ms before → after | p99 ms before → after | CPU ms/action before → after | ratio |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  join -t $'\t' <(sort "$out/baseline.tsv") <(sort "$out/current.tsv") \
    | awk -F'\t' '{ ratio = ($2 > 0) ? $6 / $2 : 0; cpu = ($5 > 0) ? $9 / $5 : 0
                    printf "| %s | %s → %s | %.2f× | %s → %s | %s → %s | %s → %s | %.2f× |\n", $1, $2, $6, ratio, $3, $7, $4, $8, $5, $9, cpu }'
  # What the servers alone take at the first latency rate (harnesses that measure it; see --floor-samples).
  for f in "$out"/*-*.md; do
    floor="$(grep -m1 '^Floor at' "$f" || true)"
    [[ -n "$floor" ]] && printf '\n%s (%s)\n' "$floor" "$(basename "$f" .md)"
  done
  echo
  echo "Full reports: $out"
} | tee "$out/comparison.md"
