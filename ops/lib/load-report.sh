#!/usr/bin/env bash
# Shared by ops/bench/load.sh and ops/bench/scale.sh: reads the markdown report the load harness
# (bench/AgentBus.LoadHarness) prints, so both scripts summarise a run the same way. Sourced, not run.

# load_report_phases REPORT...: one tab-separated line per measured phase, in the report's order:
#   phase, actions/s to the agent's outcome, p50 ms, p99 ms, CPU ms per action (every watched
#   process together: services, RabbitMQ, PostgreSQL, the harness), load average "before → after".
# A report without a phase table (a run that failed early) gives no lines.
load_report_phases() {
  awk -F'|' '
    /^\| phase \|/ { table = 1; next }
    table && /^\|---/ { next }
    table && /^\| / {
      name = $2; gsub(/^ +| +$/, "", name)
      load = $13; gsub(/^ +| +$/, "", load)
      rate[name] = $5 + 0; p50[name] = $8 + 0; p99[name] = $10 + 0; loads[name] = load; order[++n] = name; next
    }
    table && !/^\|/ { table = 0 }
    /^### / { phase = $0; sub(/^### /, "", phase); sub(/: CPU and memory per process$/, "", phase) }
    /^\| all of the above \|/ { cpu[phase] = $4 + 0 }
    END { for (i = 1; i <= n; i++) printf "%s\t%s\t%s\t%s\t%s\t%s\n", order[i], rate[order[i]], p50[order[i]], p99[order[i]], cpu[order[i]], loads[order[i]] }
  ' "$@"
}
