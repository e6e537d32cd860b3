#!/usr/bin/env bash
# The test command: real RabbitMQ and PostgreSQL (Docker when an engine answers, Debian packages
# when not), then every test in the solution. Extra arguments go to `dotnet test`
# (e.g. AGENTBUS_TEST_RUNS=0 ops/test.sh --filter FullyQualifiedName~Policy).
set -euo pipefail

OPS_DIR="$(cd "$(dirname "$0")" && pwd)"
AGENTBUS_CONFIGURATION="${AGENTBUS_CONFIGURATION:-Debug}"
# shellcheck source=lib/pipeline.sh
. "$OPS_DIR/lib/pipeline.sh"
# shellcheck source=lib/packages.sh
. "$OPS_DIR/lib/packages.sh"
STATE="$PIPELINE_STATE"

# Durability is not under test here; benchmarks that claim it run with fsync on.
AGENTBUS_PG_FSYNC="${AGENTBUS_PG_FSYNC:-off}" "$OPS_DIR/lib/servers.sh" up
# shellcheck disable=SC1091
. "$STATE/env"
export AGENTBUS_SECRETS_DIR="$STATE/secrets"
mkdir -p "$STATE/logs"
packages_ensure_test

pipeline_build

results="$STATE/logs/test-results"
rm -rf "$results"
pipeline_log "running the tests"
status=0
dotnet test "$PIPELINE_REPO/AgentBus.sln" -c "$AGENTBUS_CONFIGURATION" --no-build -nologo \
  --logger "console;verbosity=normal" --logger "trx" --results-directory "$results" "$@" || status=$?

# One line per test project and one per failed test, from the trx files. They are printed again at
# the very end, because CI keeps only the tail of a long log.
summary=()
test_lines="$(python3 - "$results" <<'PY' || true
import glob, os, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
for trx in sorted(glob.glob(os.path.join(sys.argv[1], "*.trx"))):
    root = ET.parse(trx).getroot()
    c = root.find("t:ResultSummary/t:Counters", ns).attrib
    name = root.find("t:TestDefinitions/t:UnitTest", ns)
    storage = name.attrib.get("storage", "?").split("/")[-1] if name is not None else os.path.basename(trx)
    print(f"{storage}: {c['passed']} passed, {c['failed']} failed, {int(c['total']) - int(c['executed'])} not run, {c['total']} total")
    for result in root.iterfind("t:Results/t:UnitTestResult", ns):
        if result.attrib.get("outcome") != "Failed":
            continue
        message = result.find("t:Output/t:ErrorInfo/t:Message", ns)
        first = (message.text or "").strip().splitlines()[0][:300] if message is not None and message.text else ""
        print(f"  FAILED {result.attrib.get('testName', '?')}: {first}")
PY
)"
while IFS= read -r line; do
  [[ -n "$line" ]] || continue
  pipeline_log "$line"
  summary+=("$line")
done <<<"$test_lines"
((status == 0)) || summary+=("dotnet test: FAILED (exit $status)")

# The browser tests leave a screenshot of every console page per role (docs/console.md, "Screenshots").
shots="${AGENTBUS_SCREENSHOTS_DIR:-$PIPELINE_REPO/artifacts/screenshots}/console"
if compgen -G "$shots/*.png" > /dev/null; then
  pipeline_log "console screenshots: $shots ($(find "$shots" -name '*.png' | wc -l) pages)"
fi

# The Kubernetes manifests, rendered with kubectl 1.20's kustomize and validated offline (deploy/kubernetes/README.md).
pipeline_log "validating the Kubernetes manifests: ops/k8s-validate.sh"
k8s_status=0
"$OPS_DIR/k8s-validate.sh" </dev/null || k8s_status=$?
summary+=("Kubernetes manifests: $([[ $k8s_status == 0 ]] && echo valid || echo "INVALID (exit $k8s_status)")")
pipeline_log "${summary[-1]}"
((k8s_status == 0)) || status=$k8s_status

# The short fault and hostile-input runs: the whole pipeline as processes, the fault run on servers
# of its own, the hostile run on a scratch vhost and database (full runs: ops/chaos.sh,
# ops/hostile.sh; docs/faults.md, docs/hostile-input.md). AGENTBUS_TEST_RUNS=0 skips them, e.g.
# with a --filter.
if [[ "${AGENTBUS_TEST_RUNS:-1}" != 0 ]]; then
  # the last one on a three-node RabbitMQ cluster of its own, two nodes SIGKILLed in turn under traffic
  for run in hostile chaos "chaos --cluster"; do
    read -ra words <<<"$run"
    pipeline_log "the short $run run: ops/${words[0]}.sh ${words[*]:1}${words[1]:+ }--short"
    run_status=0
    AGENTBUS_CONFIGURATION="$AGENTBUS_CONFIGURATION" "$OPS_DIR/${words[0]}.sh" "${words[@]:1}" --short </dev/null || run_status=$?
    summary+=("$run run: $([[ $run_status == 0 ]] && echo passed || echo "FAILED (exit $run_status)")")
    pipeline_log "${summary[-1]}"
    ((run_status == 0)) || status=$run_status
  done

  # A three-node RabbitMQ cluster of its own: quorum queues keep serving while one node is killed and rejoins.
  pipeline_log "the cluster self-test: ops/lib/cluster-selftest.sh"
  cluster_status=0
  AGENTBUS_STATE_DIR=/tmp/agentbus-cluster-selftest AGENTBUS_POSTGRES_PORT=5552 "$OPS_DIR/lib/cluster-selftest.sh" </dev/null || cluster_status=$?
  summary+=("cluster self-test: $([[ $cluster_status == 0 ]] && echo passed || echo "FAILED (exit $cluster_status)")")
  pipeline_log "${summary[-1]}"
  ((cluster_status == 0)) || status=$cluster_status
fi
pipeline_log "summary:"
for line in "${summary[@]}"; do pipeline_log "  $line"; done
pipeline_log "$([[ $status == 0 ]] && echo "all passed" || echo "FAILED (exit $status)")"
exit "$status"
