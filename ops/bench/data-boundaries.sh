#!/usr/bin/env bash
# The sensitive-data classifier measured (bench/AgentBus.DataBoundariesBench), in one invocation: a seeded
# corpus of positives (every class, plain, URL-encoded, base64 and split) and look-alike negatives (ids,
# hashes, UUIDs, dates, prices, paths, base64 files, sentences), the providers' documented example keys,
# then the time DataClassifier adds per proposal for 1 KB and 64 KB argument bodies. No servers needed.
#
#   ops/bench/data-boundaries.sh              the default run (about a minute with the build done)
#   ops/bench/data-boundaries.sh --short      a quicker, rougher run
#   ops/bench/data-boundaries.sh --help       seed, sizes, --corpus DIR to write the corpus out
#
# Release build; the report (markdown) goes to stdout and to $AGENTBUS_STATE_DIR/logs (default
# /var/lib/agentbus/logs, else /tmp). Exits non-zero when a target does not hold.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
STATE="${AGENTBUS_STATE_DIR:-/var/lib/agentbus}"
LOGS="$STATE/logs"
mkdir -p "$LOGS" 2>/dev/null || LOGS="${TMPDIR:-/tmp}"

dotnet build "$REPO/bench/AgentBus.DataBoundariesBench" -c Release -v quiet -nologo >&2
out="$LOGS/data-boundaries-$(date -u +%Y%m%dT%H%M%SZ).md"
set +e
dotnet "$REPO/artifacts/bin/AgentBus.DataBoundariesBench/release/agentbus-data-boundaries-bench.dll" "$@" | tee "$out"
status="${PIPESTATUS[0]}"
set -e
echo "report: $out" >&2
exit "$status"
