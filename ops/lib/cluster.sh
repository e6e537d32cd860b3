#!/usr/bin/env bash
# AgentBus on a three-node RabbitMQ cluster (quorum queues, node failures) plus PostgreSQL, on loopback.
#
#   ops/lib/cluster.sh up               start three clustered nodes and PostgreSQL (idempotent), provision, write $STATE/env
#   ops/lib/cluster.sh down [--purge]   stop the nodes and PostgreSQL; --purge also deletes $STATE
#   ops/lib/cluster.sh kill N           SIGKILL node N (1-3): a crash, no clean stop
#   ops/lib/cluster.sh start N          start node N on its data again; returns once it has rejoined the cluster
#   ops/lib/cluster.sh status           one line per node and one for PostgreSQL; exit 0 when all run, 3 otherwise
#   ops/lib/cluster.sh env              print the path of $STATE/env (export lines to source)
#
# Native mode (no Docker engine): Debian's rabbitmq-server run as user rabbitmq, three nodes
# rabbit-c1@localhost .. rabbit-c3@localhost (rabbit-cN-BASE@localhost when the AMQP base is not 5692),
# each with its own ports and folder $STATE/rabbitmq-cN; nodes 2 and 3 join node 1 with
# rabbitmqctl (stop_app, reset, join_cluster, start_app). All share the rabbitmq user's Erlang cookie.
# Docker mode (a Docker engine answers `docker info`): the compose profile `cluster` of
# docker-compose.yml (services rabbitmq-c1..c3, nodes rabbit@rabbitmq-cN, classic-config peer
# discovery); kill = `docker compose kill -s SIGKILL`, start = `docker compose start`.
# PostgreSQL comes from ops/lib/servers.sh (AGENTBUS_SERVERS_ONLY=postgres) in either mode.
#
# Environment (all optional):
#   AGENTBUS_STATE_DIR                  state folder (default /tmp/agentbus-cluster; /var/lib/agentbus is refused)
#   AGENTBUS_CLUSTER_AMQP_BASE          AMQP port of node 1 (default 5692; nodes 2, 3: +1, +2)
#   AGENTBUS_CLUSTER_MANAGEMENT_BASE    management port of node 1 (default 15692)
#   AGENTBUS_CLUSTER_DIST_BASE          Erlang distribution port of node 1 (default AMQP base + 20000)
#   AGENTBUS_POSTGRES_PORT              PostgreSQL port (default 5452)
#   AGENTBUS_CLUSTER_COMPOSE_PROJECT    docker mode: compose project (default agentbus-cluster-<AMQP base>)
#   AGENTBUS_SERVERS_MODE, AGENTBUS_SERVERS_TIMEOUT, AGENTBUS_PG_FSYNC, AGENTBUS_COMPOSE_FILE: as in servers.sh
# AGENTBUS_RABBITMQ_PORT / _MANAGEMENT_PORT / _NODENAME / _DIST_PORT are ignored here (a sourced
# single-node env must not move the cluster).
#
# $STATE/env: what servers.sh writes (AGENTBUS_RABBITMQ_HOST/PORT/MANAGEMENT_URL name node 1), plus
#   AGENTBUS_RABBITMQ_ENDPOINTS        '127.0.0.1:5692,127.0.0.1:5693,127.0.0.1:5694'
#   AGENTBUS_RABBITMQ_NODES            'rabbit-c1@localhost,rabbit-c2@localhost,rabbit-c3@localhost'
#   AGENTBUS_RABBITMQ_MANAGEMENT_URLS  'http://127.0.0.1:15692,...'
# State layout: as servers.sh, with rabbitmq-c1/ .. rabbitmq-c3/ (config, mnesia/, log/) instead of
# rabbitmq/, and a `cluster` file (the node names) that makes servers.sh refuse the folder.

# Each command is a function running in a subshell of its own (state set there stays there, on purpose).
# shellcheck disable=SC2030,SC2031
_CL_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=ops/lib/servers.sh
. "$_CL_LIB_DIR/servers.sh"
_SV_LOG_PREFIX=cluster

_CL_NODES=(1 2 3)
_CL_SERVICES=(rabbitmq-c1 rabbitmq-c2 rabbitmq-c3)
# a minority (one node cut off from the other two) pauses instead of serving a split brain
_CL_RMQ_EXTRA_CONFIG='cluster_partition_handling = pause_minority'

_cl_config() {
  local state="${AGENTBUS_STATE_DIR:-/tmp/agentbus-cluster}"
  [[ "${state%/}" != /var/lib/agentbus ]] ||
    _sv_die "AGENTBUS_STATE_DIR must not be /var/lib/agentbus (the shared single-node servers live there)"
  CL_AMQP_BASE="${AGENTBUS_CLUSTER_AMQP_BASE:-5692}"
  CL_MGMT_BASE="${AGENTBUS_CLUSTER_MANAGEMENT_BASE:-15692}"
  [[ "$CL_AMQP_BASE" =~ ^[0-9]+$ ]] || _sv_die "bad AGENTBUS_CLUSTER_AMQP_BASE '$CL_AMQP_BASE'"
  CL_DIST_BASE="${AGENTBUS_CLUSTER_DIST_BASE:-$((CL_AMQP_BASE + 20000))}"
  local b
  for b in "$CL_AMQP_BASE" "$CL_MGMT_BASE" "$CL_DIST_BASE"; do
    if ! [[ "$b" =~ ^[0-9]+$ ]] || ((b < 1024 || b + 2 > 65535)); then _sv_die "bad port base '$b' (1024..65533)"; fi
  done
  # servers.sh's single-node settings name node 1; PostgreSQL gets a port of its own
  export AGENTBUS_STATE_DIR="$state" AGENTBUS_POSTGRES_PORT="${AGENTBUS_POSTGRES_PORT:-5452}"
  export AGENTBUS_RABBITMQ_PORT="$CL_AMQP_BASE" AGENTBUS_RABBITMQ_MANAGEMENT_PORT="$CL_MGMT_BASE"
  export AGENTBUS_RABBITMQ_DIST_PORT="$CL_DIST_BASE"
  unset AGENTBUS_RABBITMQ_NODENAME AGENTBUS_SERVERS_ONLY
  # docker mode: a compose project of its own, so the PostgreSQL service started here is never the
  # shared stack's `postgres` container (same file, same service name)
  export COMPOSE_PROJECT_NAME="${AGENTBUS_CLUSTER_COMPOSE_PROJECT:-agentbus-cluster-$CL_AMQP_BASE}"
  # and the cluster profile in every compose call, servers.sh's included (exec into rabbitmq-c1)
  export COMPOSE_PROFILES=cluster
  _sv_config
  SV_PORT_HINT="set AGENTBUS_CLUSTER_AMQP_BASE / AGENTBUS_CLUSTER_MANAGEMENT_BASE / AGENTBUS_CLUSTER_DIST_BASE"
  SV_RMQ_EXTRA_CONFIG="$_CL_RMQ_EXTRA_CONFIG"
  CL_LOCK="$SV_STATE/.cluster.lock"
  CL_MODE="$(cat "$SV_MODE_FILE" 2>/dev/null || true)"
}

_cl_node_name() { # N
  if [[ "$CL_MODE" == docker ]]; then
    echo "rabbit@rabbitmq-c$1"
  elif [[ "$CL_AMQP_BASE" == 5692 ]]; then
    echo "rabbit-c$1@localhost"
  else
    echo "rabbit-c$1-$CL_AMQP_BASE@localhost"
  fi
}

# point servers.sh's RabbitMQ settings (SV_*) at node N
_cl_select() { # N
  SV_AMQP_PORT=$((CL_AMQP_BASE + $1 - 1))
  SV_MGMT_PORT=$((CL_MGMT_BASE + $1 - 1))
  SV_RMQ_DIST_PORT=$((CL_DIST_BASE + $1 - 1))
  SV_RMQ_DIR="$SV_STATE/rabbitmq-c$1"
  SV_RMQ_NODE="$(_cl_node_name "$1")"
  SV_COMPOSE_RMQ_SERVICE="rabbitmq-c$1"
  _sv_rmq_derive
}

_cl_node_arg() { # the N of kill/start
  [[ "${1:-}" =~ ^[123]$ ]] || _sv_die "name a node: 1, 2 or 3 (got '${1:-}')"
}

_cl_lock() {
  # fd 9, like servers.sh: the daemons started from here close it (servers.sh's own lock is another file)
  exec 9>"$CL_LOCK"
  flock -w 120 9 || _sv_die "another cluster.sh holds $CL_LOCK"
}

_cl_need_state() {
  [[ -d "$SV_STATE" && -e "$SV_CLUSTER_MARKER" ]] || _sv_die "no cluster in $SV_STATE: run ops/lib/cluster.sh up"
  [[ -n "$CL_MODE" ]] || _sv_die "no $SV_MODE_FILE: run ops/lib/cluster.sh up"
}

_cl_need_root() { ((EUID == 0)) || _sv_die "native mode needs root (the nodes run as user rabbitmq via runuser)"; }

_cl_compose() { _sv_compose --profile cluster "$@"; }

_cl_export_for_compose() {
  _sv_export_for_compose
  local n
  for n in "${_CL_NODES[@]}"; do
    export "AGENTBUS_CLUSTER_AMQP_PORT_$n=$((CL_AMQP_BASE + n - 1))"
    export "AGENTBUS_CLUSTER_MANAGEMENT_PORT_$n=$((CL_MGMT_BASE + n - 1))"
  done
  AGENTBUS_RABBITMQ_ERLANG_COOKIE="$(_sv_secret rabbitmq-erlang-cookie)"
  export AGENTBUS_RABBITMQ_ERLANG_COOKIE
}

# rabbitmqctl against the selected node
_cl_ctl() {
  if [[ "$CL_MODE" == docker ]]; then _cl_compose exec -T "$SV_COMPOSE_RMQ_SERVICE" rabbitmqctl "$@"; else _sv_rabbitmqctl "$@"; fi
}

# rabbitmqctl against the selected node; on failure its output and the node's log, then exit
_cl_ctl_or_die() { # what, rabbitmqctl args...
  local what="$1" out
  shift
  if ! out="$(_cl_ctl "$@" 2>&1)"; then
    printf '%s\n' "$out" | tail -n 15 | _sv_indent
    [[ "$CL_MODE" == native ]] && _sv_tail "$SV_RMQ_LOG" 15
    _sv_die "$what failed on $SV_RMQ_NODE"
  fi
}

# node names the selected node lists under FIELD (running_nodes | disk_nodes) of cluster_status, one a line
_cl_cluster_field() { # field
  local out
  out="$(_cl_ctl -q cluster_status --formatter json 2>/dev/null)" || return 1
  python3 -c 'import json, sys; print("\n".join(json.loads(sys.argv[1]).get(sys.argv[2]) or []))' "$out" "$1"
}

# is the selected node a disc member of the three-node cluster (by its own account)?
_cl_is_member() {
  local disk
  disk="$(_cl_cluster_field disk_nodes)" || return 1
  [[ "$(grep -cxF -f <(for n in "${_CL_NODES[@]}"; do _cl_node_name "$n"; done) <<<"$disk")" == 3 ]]
}

_cl_await_startup() { # selected node: rabbitmqctl await_startup, looped (exit 69 until it registers)
  if [[ "$CL_MODE" == native ]]; then
    _sv_rmq_await_native
    return
  fi
  local deadline=$((SECONDS + SV_TIMEOUT))
  until _cl_ctl -q await_startup --timeout 5 >/dev/null 2>&1; do
    ((SECONDS < deadline)) || _sv_die "$SV_RMQ_NODE did not start within ${SV_TIMEOUT}s (docker compose logs $SV_COMPOSE_RMQ_SERVICE)"
    sleep 0.5
  done
}

# for each node N (in parallel): select it and run the commands separated by --
_cl_parallel() { # N... -- command args... [-- command args...]
  local targets=() n pid pids=() failed=0
  while (($#)) && [[ "$1" != -- ]]; do targets+=("$1"); shift; done
  for n in "${targets[@]}"; do
    (
      set -euo pipefail
      _cl_select "$n"
      local step=() arg
      for arg in "$@" --; do
        if [[ "$arg" == -- ]]; then
          if ((${#step[@]})); then "${step[@]}"; fi
          step=()
        else
          step+=("$arg")
        fi
      done
    ) &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  ((failed == 0)) || _sv_die "a node failed (see above)"
}

# make node N (2 or 3) a disc member of node 1's cluster, unless it is one already
_cl_join() { # N
  local seed
  seed="$(_cl_node_name 1)"
  _cl_select "$1"
  _cl_is_member && return 0
  _sv_log "joining $SV_RMQ_NODE to $seed"
  _cl_ctl_or_die "stop_app" -q stop_app
  # a node that is no member holds nothing worth keeping; force_reset when it still names old peers
  if ! _cl_ctl -q reset >/dev/null 2>&1; then
    _cl_ctl_or_die "force_reset" -q force_reset
  fi
  _cl_ctl_or_die "join_cluster $seed" -q join_cluster "$seed"
  _cl_ctl_or_die "start_app" -q start_app
}

# wait until the selected node sees all three running, and all as disc nodes
_cl_await_all_running() {
  local left=$((SV_TIMEOUT > 5 ? SV_TIMEOUT : 5)) n running disk
  _cl_ctl_or_die "await_online_nodes 3" -q await_online_nodes 3 --timeout "$left"
  running="$(_cl_cluster_field running_nodes)" || _sv_die "cluster_status failed on $SV_RMQ_NODE"
  disk="$(_cl_cluster_field disk_nodes)" || _sv_die "cluster_status failed on $SV_RMQ_NODE"
  for n in "${_CL_NODES[@]}"; do
    grep -qxF "$(_cl_node_name "$n")" <<<"$running" || _sv_die "$(_cl_node_name "$n") is not running in the cluster (running: ${running//$'\n'/ })"
    grep -qxF "$(_cl_node_name "$n")" <<<"$disk" || _sv_die "$(_cl_node_name "$n") is no disc node of the cluster (disc: ${disk//$'\n'/ })"
  done
}

# wait until node N runs in the cluster: it and every other live node count all live nodes as running
# (await_online_nodes, one call per node that returns as soon as the count is reached)
_cl_wait_rejoined() { # N
  local n="$1" m alive=() left
  for m in "${_CL_NODES[@]}"; do
    _cl_select "$m"
    if ((m == n)) || _cl_node_alive; then alive+=("$m"); fi
  done
  for m in "${alive[@]}"; do
    _cl_select "$m"
    left=$((SV_TIMEOUT > 5 ? SV_TIMEOUT : 5))
    _cl_ctl_or_die "await_online_nodes ${#alive[@]} (waiting for $(_cl_node_name "$n") to rejoin)" \
      -q await_online_nodes "${#alive[@]}" --timeout "$left"
  done
  _cl_select "$n"
  _cl_cluster_field running_nodes | grep -qxF "$SV_RMQ_NODE" || _sv_die "$SV_RMQ_NODE does not list itself as running"
}

_cl_node_alive() { # selected node: its VM / container runs
  if [[ "$CL_MODE" == docker ]]; then
    [[ -n "$(_cl_compose ps -q --status running "$SV_COMPOSE_RMQ_SERVICE" 2>/dev/null)" ]]
  else
    [[ -n "$(_sv_rmq_state_nodes)" ]]
  fi
}

# the user rabbitmq's Erlang cookie: created once before three nodes start at the same time
# (each would otherwise write a random one of its own, and they could not talk to each other)
_cl_ensure_cookie() {
  local home cookie
  home="$(getent passwd rabbitmq | cut -d: -f6)"
  [[ -n "$home" && -d "$home" ]] || _sv_die "user rabbitmq has no home folder (for its .erlang.cookie)"
  cookie="$home/.erlang.cookie"
  if ! runuser -u rabbitmq -- test -r "$cookie"; then
    _sv_log "creating $cookie"
    # shellcheck disable=SC2016 # expanded by the inner sh
    runuser -u rabbitmq -- sh -c 'umask 077; head -c 64 /dev/urandom | tr -dc A-Z | head -c 20 >"$0.tmp" && chmod 400 "$0.tmp" && mv -f "$0.tmp" "$0"' "$cookie" ||
      _sv_die "cannot write $cookie"
  fi
}

# before anything starts: the ports of every node that is not running yet must be free
_cl_check_ports() {
  local n p busy=()
  for n in "${_CL_NODES[@]}"; do
    _cl_select "$n"
    [[ -z "$(_sv_rmq_state_nodes)" ]] || continue
    for p in "$SV_AMQP_PORT" "$SV_MGMT_PORT" "$SV_RMQ_DIST_PORT"; do
      if _sv_port_open "$p"; then
        _sv_log "port $p (for $SV_RMQ_NODE) is in use:"
        _sv_port_owner "$p"
        busy+=("$p")
      fi
    done
  done
  ((${#busy[@]} == 0)) || _sv_die "port(s) ${busy[*]} in use by other processes; $SV_PORT_HINT"
}

_cl_write_env() {
  local endpoints="" nodes="" urls="" n
  for n in "${_CL_NODES[@]}"; do
    _cl_select "$n"
    endpoints+="${endpoints:+,}$SV_HOST:$SV_AMQP_PORT"
    nodes+="${nodes:+,}$SV_RMQ_NODE"
    urls+="${urls:+,}$SV_MGMT_URL"
  done
  SV_ENV_EXTRA="export AGENTBUS_RABBITMQ_ENDPOINTS='$endpoints'
export AGENTBUS_RABBITMQ_NODES='$nodes'
export AGENTBUS_RABBITMQ_MANAGEMENT_URLS='$urls'"
  _cl_select 1
  _sv_write_env
}

# ---------------------------------------------------------------------------------------------
# commands

cluster_up() (
  set -euo pipefail
  _cl_config
  _sv_pick_mode
  if [[ -n "$CL_MODE" && "$CL_MODE" != "$SV_MODE" ]]; then
    _sv_die "$SV_STATE was set up in $CL_MODE mode, not $SV_MODE: run ops/lib/cluster.sh down --purge first"
  fi
  CL_MODE="$SV_MODE"
  [[ "$CL_MODE" == docker ]] || _cl_need_root
  _sv_prepare_state
  _cl_lock
  _sv_load_secrets
  local n names=""
  for n in "${_CL_NODES[@]}"; do names+="$(_cl_node_name "$n")"$'\n'; done
  printf '%s' "$names" >"$SV_CLUSTER_MARKER"

  [[ "$CL_MODE" == docker ]] || _cl_check_ports

  # PostgreSQL first, through servers.sh (its own lock; up in well under a second natively)
  AGENTBUS_SERVERS_MODE="$CL_MODE" AGENTBUS_SERVERS_ONLY=postgres servers_up

  # fast path: all three up and clustered with this config, the admin in place
  if [[ -s "$SV_ENV_FILE" ]] && _cl_all_good; then
    _cl_write_env
    _sv_log "cluster and postgres already up ($CL_MODE)"
    return 0
  fi

  local fresh=()
  if [[ "$CL_MODE" == docker ]]; then
    _cl_export_for_compose
    _sv_log "docker compose --profile cluster up ${_CL_SERVICES[*]} ($SV_COMPOSE_FILE)"
    _cl_compose up -d --wait "${_CL_SERVICES[@]}" 9>&- >&2 || _sv_die "docker compose up ${_CL_SERVICES[*]} failed"
  else
    _cl_ensure_cookie
    # all three VMs boot at the same time (a node whose peers stopped after it waits for them)
    for n in "${_CL_NODES[@]}"; do
      _cl_select "$n"
      # nodes 2 and 3 without a database yet boot standalone and join below
      if ((n > 1)) && [[ ! -d "$SV_RMQ_DIR/mnesia/$SV_RMQ_NODE" ]] && [[ -z "$(_sv_rmq_state_nodes)" ]]; then
        fresh+=("$n")
      fi
      _sv_rmq_launch_native
    done
  fi
  for n in "${_CL_NODES[@]}"; do
    _cl_select "$n"
    _cl_await_startup
  done
  if ((${#fresh[@]})); then
    # the join of a brand-new node: stop_app and reset side by side (a stop_app takes seconds),
    # join_cluster one after the other, start_app side by side
    _cl_parallel "${fresh[@]}" -- _cl_ctl_or_die stop_app -q stop_app -- _cl_ctl_or_die reset -q reset
    local seed
    seed="$(_cl_node_name 1)"
    for n in "${fresh[@]}"; do
      _cl_select "$n"
      _sv_log "joining $SV_RMQ_NODE to $seed"
      _cl_ctl_or_die "join_cluster $seed" -q join_cluster "$seed"
    done
    _cl_parallel "${fresh[@]}" -- _cl_ctl_or_die start_app -q start_app -- _cl_await_startup
  fi
  # nodes that ran before (and docker's classic-config discovery) are normally members already:
  # then this only looks
  for n in 2 3; do
    [[ " ${fresh[*]} " == *" $n "* ]] || _cl_join "$n"
  done
  _cl_select 1
  _cl_await_all_running

  # users live in the cluster-wide schema: provision through node 1, check the login on each node
  _cl_select 1
  _sv_rmq_provision "$CL_MODE"
  for n in "${_CL_NODES[@]}"; do
    _cl_select "$n"
    _sv_rmq_wait_ready "$CL_MODE"
  done
  SV_MODE="$CL_MODE"
  _cl_write_env
  _cl_select 1
  _sv_log "up ($CL_MODE): 3 nodes $(tr '\n' ' ' <"$SV_CLUSTER_MARKER")(amqp 127.0.0.1:$CL_AMQP_BASE-$((CL_AMQP_BASE + 2)), management $CL_MGMT_BASE-$((CL_MGMT_BASE + 2))), postgres 127.0.0.1:$SV_PG_PORT; env: $SV_ENV_FILE"
)

cluster_kill() (
  set -euo pipefail
  _cl_node_arg "${1:-}"
  (($# == 1)) || _sv_die "kill: one node only"
  _cl_config
  _cl_need_state
  _cl_lock
  _cl_select "$1"
  if [[ "$CL_MODE" == docker ]]; then
    _sv_log "docker compose kill -s SIGKILL $SV_COMPOSE_RMQ_SERVICE ($SV_RMQ_NODE)"
    _cl_compose kill -s SIGKILL "$SV_COMPOSE_RMQ_SERVICE" >&2 || _sv_die "docker compose kill $SV_COMPOSE_RMQ_SERVICE failed"
    return 0
  fi
  _cl_need_root
  local pids pid i
  pids="$(_sv_rmq_state_nodes | awk '{ print $1 }')"
  if [[ -z "$pids" ]]; then
    _sv_log "$SV_RMQ_NODE is not running: nothing to kill"
    return 0
  fi
  for pid in $pids; do
    _sv_log "SIGKILL $SV_RMQ_NODE (beam.smp pid $pid)"
    kill -9 "$pid" 2>/dev/null || true
  done
  for pid in $pids; do
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    ! kill -0 "$pid" 2>/dev/null || _sv_die "beam.smp $pid survived SIGKILL"
  done
)

cluster_start() (
  set -euo pipefail
  _cl_node_arg "${1:-}"
  (($# == 1)) || _sv_die "start: one node only"
  _cl_config
  _cl_need_state
  _cl_lock
  _sv_load_secrets
  _cl_select "$1"
  if [[ "$CL_MODE" == docker ]]; then
    _cl_export_for_compose
    _sv_log "docker compose start $SV_COMPOSE_RMQ_SERVICE ($SV_RMQ_NODE)"
    _cl_compose start "$SV_COMPOSE_RMQ_SERVICE" 9>&- >&2 || _sv_die "docker compose start $SV_COMPOSE_RMQ_SERVICE failed"
  else
    _cl_need_root
    _sv_rmq_launch_native
  fi
  _cl_await_startup
  ((${1} == 1)) || _cl_join "$1"
  _cl_wait_rejoined "$1"
  _sv_rmq_wait_ready "$CL_MODE"
  _sv_log "$SV_RMQ_NODE runs in the cluster again"
)

# "<selected node runs> <how many of the three it sees running>" from its management API ('' if no answer)
_cl_seen_running() { # admin password
  local json
  json="$(_cl_http_json /api/nodes "$SV_ADMIN_USER" "$1")"
  python3 -c '
import json, sys
try:
    nodes = {x.get("name"): x.get("running") for x in json.loads(sys.argv[1])}
except (ValueError, AttributeError, TypeError):
    sys.exit(0)
print(int(bool(nodes.get(sys.argv[2]))), sum(1 for n in sys.argv[3:] if nodes.get(n)))' \
    "$json" "$SV_RMQ_NODE" "$(_cl_node_name 1)" "$(_cl_node_name 2)" "$(_cl_node_name 3)" 2>/dev/null || true
}

# everything `up` makes is in place: three healthy clustered nodes on this config, guest gone
_cl_all_good() {
  local n
  for n in "${_CL_NODES[@]}"; do
    _cl_select "$n"
    _sv_rmq_healthy || return 1
    if [[ "$CL_MODE" == native ]]; then
      cmp -s <(_sv_rmq_config_text) "$SV_RMQ_DIR/rabbitmq.conf" || return 1
      [[ "$(_sv_rmq_state_nodes | awk '{ print $2 }')" == "$SV_RMQ_NODE" ]] || return 1
    fi
  done
  _cl_select 1
  [[ "$(_cl_seen_running "$SV_ADMIN_PW")" == "1 3" ]] || return 1
  [[ "$(_sv_http GET /api/users/guest "$SV_ADMIN_USER" "$SV_ADMIN_PW")" == 404 ]]
}

# the JSON of a management API GET on the selected node ('' when it does not answer)
_cl_http_json() { # path user password
  curl -s -f --max-time 5 -K - "$SV_MGMT_URL$1" <<<"user = \"$2:$3\"" 2>/dev/null || true
}

cluster_status() (
  set -euo pipefail
  _cl_config
  local admin_pw="" rc=0 n seen state
  [[ -r "$SV_SECRETS/rabbitmq-agentbus-admin.password" ]] &&
    admin_pw="$(head -n 1 "$SV_SECRETS/rabbitmq-agentbus-admin.password")"
  for n in "${_CL_NODES[@]}"; do
    _cl_select "$n"
    state=down
    seen=""
    if _sv_port_open "$SV_AMQP_PORT"; then
      seen="$(_cl_seen_running "$admin_pw")"
      if [[ "$seen" == "1 3" ]]; then
        state=up
      elif [[ -n "$seen" ]]; then
        state="up, but sees only ${seen#* } of the 3 nodes running"
      else
        state="down (amqp port open, management API does not answer for $SV_ADMIN_USER)"
      fi
    fi
    [[ "$state" == up ]] || rc=3
    echo "$SV_RMQ_NODE $state (amqp 127.0.0.1:$SV_AMQP_PORT, management $SV_MGMT_PORT, dist $SV_RMQ_DIST_PORT${CL_MODE:+, $CL_MODE})"
  done
  AGENTBUS_SERVERS_ONLY=postgres servers_status || rc=3
  return "$rc"
)

cluster_down() (
  set -euo pipefail
  local purge
  purge="$(_sv_purge_argument "$@")"
  _cl_config
  if [[ ! -d "$SV_STATE" ]]; then
    _sv_log "no state folder $SV_STATE: nothing to stop"
    return 0
  fi
  _cl_lock
  local n
  if [[ "$CL_MODE" == docker ]]; then
    if _sv_docker_engine && [[ -f "$SV_COMPOSE_FILE" ]]; then
      _sv_load_secrets
      _cl_export_for_compose
      if ((purge)); then
        # the data sits in each container's anonymous /var/lib/rabbitmq volume: -v deletes it
        _sv_log "docker compose rm -s -f -v ${_CL_SERVICES[*]}"
        _cl_compose rm -s -f -v "${_CL_SERVICES[@]}" >&2
      else
        _sv_log "docker compose stop ${_CL_SERVICES[*]}"
        _cl_compose stop "${_CL_SERVICES[@]}" >&2
      fi
    else
      _sv_log "recorded mode is docker but no engine/compose file answers: nothing stopped"
    fi
  else
    _cl_need_root
    # the three stops run side by side (a clean stop takes ~8 s each); the next `up` starts all
    # three together, so the order in which they stop does not matter
    local pids=() failed=0 pid
    for n in "${_CL_NODES[@]}"; do
      (
        _cl_select "$n"
        _sv_rmq_stop_native
      ) &
      pids+=("$!")
    done
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    for n in "${_CL_NODES[@]}"; do
      _cl_select "$n"
      for pid in $(_sv_rmq_state_nodes | awk '{ print $1 }'); do
        _sv_log "$SV_RMQ_NODE still running after stop: SIGKILL $pid"
        kill -9 "$pid" 2>/dev/null || true
        failed=1
      done
    done
    ((failed == 0)) || _sv_log "a node did not stop cleanly (see above)"
  fi
  # PostgreSQL last; with --purge servers.sh also deletes $STATE (only if its marker file is there)
  if ((purge)); then
    AGENTBUS_SERVERS_ONLY=postgres servers_down --purge
  else
    AGENTBUS_SERVERS_ONLY=postgres servers_down
  fi
)

cluster_env_file() (
  set -euo pipefail
  _cl_config
  [[ -s "$SV_ENV_FILE" ]] || _sv_die "no $SV_ENV_FILE yet: run ops/lib/cluster.sh up"
  printf '%s\n' "$SV_ENV_FILE"
)

_cl_usage() {
  sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  cmd="${1:-}"
  shift || true
  case "$cmd" in
    up) cluster_up "$@" ;;
    down) cluster_down "$@" ;;
    kill) cluster_kill "$@" ;;
    start) cluster_start "$@" ;;
    status) cluster_status "$@" ;;
    env) cluster_env_file "$@" ;;
    -h | --help | help) _cl_usage ;;
    *)
      _cl_usage
      exit 2
      ;;
  esac
fi
