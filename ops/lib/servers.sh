#!/usr/bin/env bash
# AgentBus server bootstrap: RabbitMQ 3.10 (+management, shovel) and PostgreSQL 15 on loopback.
#
#   ops/lib/servers.sh up               start both (idempotent), provision users, write $STATE/env
#   ops/lib/servers.sh down [--purge]   stop what `up` started; --purge also deletes $STATE
#   ops/lib/servers.sh restart rabbitmq|postgres   stop and start that one server (fault runs)
#   ops/lib/servers.sh status           one line per server; exit 0 when both are up, 3 otherwise
#   ops/lib/servers.sh env              print the path of $STATE/env (export lines to source)
#
# Sourced (`. ops/lib/servers.sh`), it defines servers_up, servers_down, servers_restart, servers_status,
# servers_env_file (each runs in a subshell with `set -euo pipefail`, so the caller's shell
# options are untouched) and servers_load_env (sources $STATE/env into the caller).
#
# Modes: with a Docker engine answering `docker info` and <repo>/docker-compose.yml present,
# `docker compose up -d --wait rabbitmq postgres`; otherwise the Debian packages, installed
# with apt-get when missing and run as the rabbitmq / postgres users (needs root).
#
# Environment (all optional):
#   AGENTBUS_STATE_DIR                  state folder (default /var/lib/agentbus)
#   AGENTBUS_RABBITMQ_PORT              AMQP port (default 5672)
#   AGENTBUS_RABBITMQ_MANAGEMENT_PORT   management HTTP port (default 15672)
#   AGENTBUS_POSTGRES_PORT              PostgreSQL port (default 5432)
#   AGENTBUS_PG_FSYNC                   off = start PostgreSQL with fsync=off (tests); on = fsync on.
#                                       Unset: on at start; a running server is left as it is.
#                                       Set and different from the running server: it is restarted.
#   AGENTBUS_SERVERS_MODE               auto (default) | native | docker
#   AGENTBUS_SERVERS_TIMEOUT            seconds to wait for each server (default 60)
#   AGENTBUS_COMPOSE_FILE               default <repo>/docker-compose.yml
#   AGENTBUS_RABBITMQ_NODENAME          default rabbit@localhost (rabbit-PORT@localhost off 5672)
#   AGENTBUS_RABBITMQ_DIST_PORT         Erlang distribution port (default AMQP port + 20000)
#   AGENTBUS_SERVERS_ONLY               postgres = up/down/restart/status handle PostgreSQL only and
#                                       up writes no env (ops/lib/cluster.sh runs the RabbitMQ nodes)
#
# In docker mode these are exported for interpolation in the compose file:
#   AGENTBUS_RABBITMQ_PORT, AGENTBUS_RABBITMQ_MANAGEMENT_PORT, AGENTBUS_POSTGRES_PORT,
#   AGENTBUS_RABBITMQ_ADMIN_USER, AGENTBUS_RABBITMQ_ADMIN_PASSWORD,
#   AGENTBUS_POSTGRES_SUPERUSER_PASSWORD, AGENTBUS_POSTGRES_AGENTBUS_PASSWORD.
#
# State layout ($STATE): env (export lines, 0600), mode (native|docker), secrets/ (0700;
# rabbitmq-agentbus-admin.password, postgres-postgres.password, postgres-agentbus.password),
# rabbitmq/ (config, mnesia/, log/), postgres/ (data/, postgres.log, socket), run/ (pid files
# of pipeline processes, see ops/down.sh). A state folder with a `cluster` file belongs to
# ops/lib/cluster.sh: this script refuses it (except with AGENTBUS_SERVERS_ONLY=postgres).

_SV_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_SV_REPO_DIR="$(cd "$_SV_LIB_DIR/../.." && pwd)"

# ops/lib/cluster.sh sources this file and sets _SV_LOG_PREFIX=cluster
_sv_log() { printf '[%s] %s\n' "${_SV_LOG_PREFIX:-servers}" "$*" >&2; }
_sv_indent() { sed "s/^/[${_SV_LOG_PREFIX:-servers}]   /" >&2; }
_sv_die() { _sv_log "error: $*"; exit 1; }
_sv_tail() { # file [lines]
  if [[ -f "$1" ]]; then
    _sv_log "last lines of $1:"
    tail -n "${2:-25}" "$1" | _sv_indent
  else
    _sv_log "(no log at $1)"
  fi
}

_sv_config() {
  SV_STATE="${AGENTBUS_STATE_DIR:-/var/lib/agentbus}"
  [[ "$SV_STATE" == /* && "$SV_STATE" != *[[:space:]]* ]] ||
    _sv_die "AGENTBUS_STATE_DIR must be an absolute path without spaces (got '$SV_STATE')"
  SV_STATE="${SV_STATE%/}"
  SV_HOST=127.0.0.1
  SV_AMQP_PORT="${AGENTBUS_RABBITMQ_PORT:-5672}"
  SV_MGMT_PORT="${AGENTBUS_RABBITMQ_MANAGEMENT_PORT:-15672}"
  SV_PG_PORT="${AGENTBUS_POSTGRES_PORT:-5432}"
  local p
  for p in "$SV_AMQP_PORT" "$SV_MGMT_PORT" "$SV_PG_PORT"; do
    if ! [[ "$p" =~ ^[0-9]+$ ]] || ((p < 1 || p > 65535)); then _sv_die "bad port '$p'"; fi
  done
  SV_ADMIN_USER=agentbus-admin
  SV_TIMEOUT="${AGENTBUS_SERVERS_TIMEOUT:-60}"
  SV_SECRETS="$SV_STATE/secrets"
  SV_ENV_FILE="$SV_STATE/env"
  SV_MODE_FILE="$SV_STATE/mode"
  SV_MARKER="$SV_STATE/.agentbus-state"
  SV_COMPOSE_FILE="${AGENTBUS_COMPOSE_FILE:-$_SV_REPO_DIR/docker-compose.yml}"

  SV_RMQ_DIR="$SV_STATE/rabbitmq"
  SV_RMQ_BIN=/usr/lib/rabbitmq/bin
  if [[ -n "${AGENTBUS_RABBITMQ_NODENAME:-}" ]]; then
    SV_RMQ_NODE="$AGENTBUS_RABBITMQ_NODENAME"
  elif [[ "$SV_AMQP_PORT" == 5672 ]]; then
    SV_RMQ_NODE=rabbit@localhost
  else
    SV_RMQ_NODE="rabbit-$SV_AMQP_PORT@localhost"
  fi
  SV_RMQ_DIST_PORT="${AGENTBUS_RABBITMQ_DIST_PORT:-$((SV_AMQP_PORT + 20000))}"
  _sv_rmq_derive

  SV_PG_BIN="${AGENTBUS_PG_BIN:-/usr/lib/postgresql/15/bin}"
  SV_PG_DIR="$SV_STATE/postgres"
  SV_PG_DATA="$SV_PG_DIR/data"
  SV_PG_LOG="$SV_PG_DIR/postgres.log"

  # AGENTBUS_SERVERS_ONLY=postgres: up/down/restart/status handle PostgreSQL alone (ops/lib/cluster.sh
  # runs its own RabbitMQ nodes and uses this file for PostgreSQL)
  SV_ONLY="${AGENTBUS_SERVERS_ONLY:-}"
  [[ -z "$SV_ONLY" || "$SV_ONLY" == postgres ]] || _sv_die "AGENTBUS_SERVERS_ONLY must be empty or postgres (got '$SV_ONLY')"
  SV_CLUSTER_MARKER="$SV_STATE/cluster"
}

# One RabbitMQ node's derived settings, from SV_AMQP_PORT, SV_MGMT_PORT, SV_RMQ_DIR, SV_RMQ_NODE and
# SV_RMQ_DIST_PORT (ops/lib/cluster.sh sets those per node and calls this again).
_sv_rmq_derive() {
  SV_MGMT_URL="http://$SV_HOST:$SV_MGMT_PORT"
  SV_RMQ_LOG="$SV_RMQ_DIR/log/$SV_RMQ_NODE.log"
  SV_RMQ_PIDFILE="$SV_RMQ_DIR/rabbit.pid"
  _SV_RMQ_ENV=(
    "RABBITMQ_NODENAME=$SV_RMQ_NODE"
    "RABBITMQ_MNESIA_BASE=$SV_RMQ_DIR/mnesia"
    "RABBITMQ_LOG_BASE=$SV_RMQ_DIR/log"
    "RABBITMQ_CONFIG_FILE=$SV_RMQ_DIR/rabbitmq.conf"
    "RABBITMQ_ADVANCED_CONFIG_FILE=$SV_RMQ_DIR/advanced.config"
    "RABBITMQ_ENABLED_PLUGINS_FILE=$SV_RMQ_DIR/enabled_plugins"
    "RABBITMQ_PID_FILE=$SV_RMQ_PIDFILE"
    "RABBITMQ_CONF_ENV_FILE=$SV_RMQ_DIR/rabbitmq-env.conf"
    "RABBITMQ_DIST_PORT=$SV_RMQ_DIST_PORT"
    "ERL_EPMD_ADDRESS=127.0.0.1"
    "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}"
    # rabbitmqctl's own distribution listener (ports 35672-35682) on loopback too
    "RABBITMQ_CTL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}"
  )
}

# ---------------------------------------------------------------------------------------------
# small helpers

# shellcheck disable=SC2016 # expanded by the inner bash
_sv_port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$SV_HOST" "$1" 2>/dev/null; }

_sv_port_owner() { ss -Hltnp "sport = :$1" 2>/dev/null | head -n 3 | _sv_indent || true; }

# _sv_http METHOD PATH USER PASSWORD [BODY] -> prints the HTTP status code (000 if no answer)
_sv_http() {
  local method="$1" path="$2" user="$3" pw="$4" body="${5:-}" args
  args=(-s -o /dev/null -w '%{http_code}' --max-time 5 -X "$method" -K -)
  [[ -n "$body" ]] && args+=(-H 'content-type: application/json' --data "$body")
  # credentials go through stdin (-K -) so they do not show up in ps
  curl "${args[@]}" "$SV_MGMT_URL$path" <<<"user = \"$user:$pw\"" 2>/dev/null || true
}

_sv_secret() { # name -> prints the secret, generating it once
  local f="$SV_SECRETS/$1.password" pw=""
  if [[ ! -s "$f" ]]; then
    while ((${#pw} < 20)); do
      pw="$(head -c 24 /dev/urandom | base64 | tr -dc A-Za-z0-9)"
    done
    (umask 077 && printf '%s\n' "$pw" >"$f.tmp" && mv -f "$f.tmp" "$f")
  fi
  head -n 1 "$f"
}

_sv_load_secrets() {
  SV_ADMIN_PW="$(_sv_secret rabbitmq-agentbus-admin)"
  SV_PG_SUPER_PW="$(_sv_secret postgres-postgres)"
  SV_PG_APP_PW="$(_sv_secret postgres-agentbus)"
}

_sv_prepare_state() {
  if [[ ! -d "$SV_STATE" ]]; then
    mkdir -p "$SV_STATE" || _sv_die "cannot create $SV_STATE"
    chmod 755 "$SV_STATE"
  fi
  [[ -e "$SV_MARKER" ]] || : >"$SV_MARKER"
  mkdir -p "$SV_SECRETS" "$SV_STATE/run"
  chmod 700 "$SV_SECRETS"
}

_sv_write_env() {
  local tmp="$SV_ENV_FILE.tmp"
  (
    umask 077
    cat >"$tmp" <<EOF
# written by ops/lib/${_SV_LOG_PREFIX:-servers}.sh up ($SV_MODE mode); source it
export AGENTBUS_RABBITMQ_HOST='$SV_HOST'
export AGENTBUS_RABBITMQ_PORT='$SV_AMQP_PORT'
export AGENTBUS_RABBITMQ_MANAGEMENT_URL='$SV_MGMT_URL'
export AGENTBUS_RABBITMQ_ADMIN_USER='$SV_ADMIN_USER'
export AGENTBUS_RABBITMQ_ADMIN_PASSWORD='$SV_ADMIN_PW'
export AGENTBUS_POSTGRES_ADMIN='Host=$SV_HOST;Port=$SV_PG_PORT;Username=postgres;Password=$SV_PG_SUPER_PW;Database=postgres'
export AGENTBUS_POSTGRES='Host=$SV_HOST;Port=$SV_PG_PORT;Username=agentbus;Password=$SV_PG_APP_PW;Database=agentbus'
EOF
    # extra export lines (ops/lib/cluster.sh: the endpoints and names of all nodes)
    [[ -z "${SV_ENV_EXTRA:-}" ]] || printf '%s\n' "$SV_ENV_EXTRA" >>"$tmp"
  )
  if cmp -s "$tmp" "$SV_ENV_FILE"; then rm -f "$tmp"; else mv -f "$tmp" "$SV_ENV_FILE"; fi
  if [[ "$(cat "$SV_MODE_FILE" 2>/dev/null)" != "$SV_MODE" ]]; then
    printf '%s\n' "$SV_MODE" >"$SV_MODE_FILE"
  fi
}

# ---------------------------------------------------------------------------------------------
# packages

_sv_pkg_installed() { [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]; }

_sv_ensure_packages() { # mode
  local missing=() log="$SV_STATE/apt.log"
  if [[ "$1" == native ]]; then
    [[ -x "$SV_RMQ_BIN/rabbitmq-server" ]] || missing+=(rabbitmq-server)
    [[ -x "$SV_PG_BIN/pg_ctl" && -x "$SV_PG_BIN/psql" ]] || missing+=(postgresql-15)
  fi
  _sv_pkg_installed python3-pika || missing+=(python3-pika)
  command -v curl >/dev/null || missing+=(curl)
  ((${#missing[@]} == 0)) && return 0

  ((EUID == 0)) || _sv_die "missing packages (${missing[*]}) and not root: cannot apt-get install"
  if [[ " ${missing[*]} " == *" postgresql-15 "* ]]; then
    # keep the package from creating (and starting) its own cluster on port 5432
    mkdir -p /etc/postgresql-common/createcluster.d
    printf 'create_main_cluster = false\n' >/etc/postgresql-common/createcluster.d/agentbus.conf
  fi
  # the packages must not start their own servers (rabbit@HOST on 0.0.0.0:5672 with guest):
  # where no policy-rc.d forbids it already, forbid it for the duration of the install
  local policy=/usr/sbin/policy-rc.d own_policy=0 rc=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# temporary, from ops/lib/servers.sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  _sv_log "installing ${missing[*]} (apt-get, log $log)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >"$log" 2>&1 &&
    apt-get install -y -q --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
      "${missing[@]}" >>"$log" 2>&1 || rc=$?
  ((own_policy)) && rm -f "$policy"
  if ((rc != 0)); then
    _sv_tail "$log"
    _sv_die "apt-get install ${missing[*]} failed"
  fi
  # the rabbitmq-server install leaves an epmd listening on all interfaces; ours binds loopback
  local names
  if names="$(epmd -names 2>/dev/null)" && ! grep -q '^name ' <<<"$names"; then
    epmd -kill >/dev/null 2>&1 || true
  fi
}

# ---------------------------------------------------------------------------------------------
# RabbitMQ (native)

# fd 9 (the state lock) is closed so that daemons started from here do not inherit it
_sv_as_rabbitmq() { (cd "$SV_RMQ_DIR" && exec 9>&- && runuser -u rabbitmq -- env "${_SV_RMQ_ENV[@]}" "$@"); }
_sv_rabbitmqctl() { _sv_as_rabbitmq "$SV_RMQ_BIN/rabbitmqctl" "$@"; }

# every VM running on this state folder, as "pid nodename" lines (found by its environment)
_sv_rmq_state_nodes() {
  local pid envs
  for pid in $(pgrep -u rabbitmq -x beam.smp 2>/dev/null || true); do
    # rabbitmqctl runs a short-lived beam.smp as user rabbitmq with the same environment: only a
    # server VM boots rabbit (and a VM may be gone by now)
    [[ "$( (tr '\0' ' ' <"/proc/$pid/cmdline") 2>/dev/null || true)" == *" -s rabbit boot "* ]] || continue
    envs="$( (tr '\0' '\n' <"/proc/$pid/environ") 2>/dev/null || true)"
    grep -qxF -e "RABBITMQ_MNESIA_BASE=$SV_RMQ_DIR/mnesia" <<<"$envs" || continue
    printf '%s %s\n' "$pid" "$(sed -n 's/^RABBITMQ_NODENAME=//p' <<<"$envs" | head -n 1)"
  done
}

_sv_rmq_node_pid() { # pid of our node's VM, if it runs
  _sv_rmq_state_nodes | awk -v n="$SV_RMQ_NODE" '$2 == n { print $1; exit }'
}

_sv_rmq_config_text() {
  cat <<EOF
# written by ops/lib/servers.sh
listeners.tcp.default = $SV_HOST:$SV_AMQP_PORT
management.tcp.ip = $SV_HOST
management.tcp.port = $SV_MGMT_PORT
max_message_size = 4194304
vm_memory_high_watermark.relative = 0.4
disk_free_limit.absolute = 50MB
EOF
  # extra lines (ops/lib/cluster.sh: cluster_partition_handling)
  [[ -z "${SV_RMQ_EXTRA_CONFIG:-}" ]] || printf '%s\n' "$SV_RMQ_EXTRA_CONFIG"
}

_sv_rmq_write_config() {
  install -d -o rabbitmq -g rabbitmq -m 750 "$SV_RMQ_DIR" "$SV_RMQ_DIR/mnesia" "$SV_RMQ_DIR/log"
  local conf="$SV_RMQ_DIR/rabbitmq.conf" plugins="$SV_RMQ_DIR/enabled_plugins"
  _sv_rmq_config_text >"$conf.tmp"
  mv -f "$conf.tmp" "$conf"
  printf '%s\n' '[rabbitmq_management,rabbitmq_shovel,rabbitmq_shovel_management].' >"$plugins"
  chown rabbitmq:rabbitmq "$conf" "$plugins"
  runuser -u rabbitmq -- test -x "$SV_RMQ_DIR" -a -w "$SV_RMQ_DIR/mnesia" ||
    _sv_die "user rabbitmq cannot reach $SV_RMQ_DIR (is a parent folder mode 700, e.g. under /root?)"
}

_sv_rmq_healthy() { # AMQP port accepting and management API answering with the admin login
  _sv_port_open "$SV_AMQP_PORT" &&
    [[ "$(_sv_http GET /api/overview "$SV_ADMIN_USER" "$SV_ADMIN_PW")" == 200 ]]
}

_sv_rmq_fail() { # message
  _sv_tail "$SV_RMQ_LOG"
  [[ -s "$SV_RMQ_DIR/log/startup.log" ]] && _sv_tail "$SV_RMQ_DIR/log/startup.log" 10
  # errors before the logger starts (e.g. a port in use) only reach the crash dump
  [[ -f "$SV_RMQ_DIR/erl_crash.dump" ]] && grep -m 1 '^Slogan:' "$SV_RMQ_DIR/erl_crash.dump" | cut -c 1-400 | _sv_indent
  _sv_die "$1"
}

_sv_rmq_start_native() {
  _sv_rmq_launch_native
  _sv_rmq_await_native
}

# starts our node's VM unless it runs already with the same node name and config (does not wait)
_sv_rmq_launch_native() {
  local running
  running="$(_sv_rmq_state_nodes)"
  if [[ -n "$running" ]] && { [[ "$running" != *" $SV_RMQ_NODE" || "$(wc -l <<<"$running")" -gt 1 ]] ||
    ! cmp -s <(_sv_rmq_config_text) "$SV_RMQ_DIR/rabbitmq.conf"; }; then
    _sv_log "rabbitmq: node or ports changed: restarting"
    _sv_rmq_stop_native
    running=""
  fi
  if [[ -n "$running" ]]; then
    _sv_log "rabbitmq node $SV_RMQ_NODE is running; waiting for it"
  else
    local p
    for p in "$SV_AMQP_PORT" "$SV_MGMT_PORT" "$SV_RMQ_DIST_PORT"; do
      if _sv_port_open "$p"; then
        _sv_port_owner "$p"
        _sv_die "port $p (for $SV_RMQ_NODE) is in use by another process; ${SV_PORT_HINT:-set AGENTBUS_RABBITMQ_PORT / AGENTBUS_RABBITMQ_MANAGEMENT_PORT / AGENTBUS_RABBITMQ_DIST_PORT}"
      fi
    done
    _sv_rmq_write_config
    _sv_log "starting rabbitmq ($SV_RMQ_NODE, 127.0.0.1:$SV_AMQP_PORT, management :$SV_MGMT_PORT)"
    rm -f "$SV_RMQ_PIDFILE" "$SV_RMQ_DIR/erl_crash.dump" "$SV_RMQ_DIR/log/startup.log"
    # runuser drops the soft fd limit to 1024: raise it again inside
    # shellcheck disable=SC2016 # expanded by the inner sh
    _sv_as_rabbitmq sh -c 'exec >>"$0" 2>&1; ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$1" -detached' \
      "$SV_RMQ_DIR/log/startup.log" "$SV_RMQ_BIN/rabbitmq-server" || _sv_rmq_fail "rabbitmq-server did not start"
  fi
}

_sv_rmq_await_native() {
  local deadline=$((SECONDS + SV_TIMEOUT)) started=$SECONDS
  # await_startup exits 69 at once until the node has registered with epmd: loop on it
  until _sv_rabbitmqctl -q await_startup --timeout 5 >/dev/null 2>&1; do
    ((SECONDS < deadline)) || _sv_rmq_fail "rabbitmq did not start within ${SV_TIMEOUT}s"
    if ((SECONDS - started >= 3)) && [[ -z "$(_sv_rmq_node_pid)" ]]; then
      _sv_rmq_fail "rabbitmq node $SV_RMQ_NODE exited during startup"
    fi
    sleep 0.5
  done
}

# Bootstrap the admin with rabbitmqctl (guest may be gone), idempotently.
_sv_rmq_bootstrap_admin() { # mode
  local ctl=_sv_rabbitmqctl
  [[ "$1" == docker ]] && ctl=_sv_compose_rabbitmqctl
  _sv_log "rabbitmq: creating administrator $SV_ADMIN_USER"
  if ! "$ctl" -q add_user "$SV_ADMIN_USER" "$SV_ADMIN_PW" >/dev/null 2>&1; then
    "$ctl" -q change_password "$SV_ADMIN_USER" "$SV_ADMIN_PW" >/dev/null ||
      _sv_die "rabbitmqctl could not create or update $SV_ADMIN_USER"
  fi
  "$ctl" -q set_user_tags "$SV_ADMIN_USER" administrator >/dev/null
  "$ctl" -q set_permissions -p / "$SV_ADMIN_USER" '.*' '.*' '.*' >/dev/null
}

# Everything else through the management HTTP API (idempotent; changes nothing when in place).
_sv_rmq_provision() { # mode
  local deadline=$((SECONDS + SV_TIMEOUT)) code bootstrapped=0
  while :; do
    code="$(_sv_http GET /api/whoami "$SV_ADMIN_USER" "$SV_ADMIN_PW")"
    [[ "$code" == 200 ]] && break
    if [[ "$code" == 401 && "$bootstrapped" == 0 ]]; then
      _sv_rmq_bootstrap_admin "$1"
      bootstrapped=1
      continue
    fi
    if ((SECONDS >= deadline)); then
      [[ "$1" == native ]] && _sv_tail "$SV_RMQ_LOG"
      _sv_die "rabbitmq management API $SV_MGMT_URL answered '$code' for $SV_ADMIN_USER within ${SV_TIMEOUT}s"
    fi
    sleep 0.5
  done

  local perms
  perms="$(curl -s --max-time 5 -K - "$SV_MGMT_URL/api/permissions/%2F/$SV_ADMIN_USER" \
    <<<"user = \"$SV_ADMIN_USER:$SV_ADMIN_PW\"" 2>/dev/null || true)"
  if [[ "$perms" != *'"configure":".*"'*'"write":".*"'*'"read":".*"'* ]]; then
    code="$(_sv_http PUT "/api/permissions/%2F/$SV_ADMIN_USER" "$SV_ADMIN_USER" "$SV_ADMIN_PW" \
      '{"configure":".*","write":".*","read":".*"}')"
    [[ "$code" == 20[14] ]] || _sv_die "setting permissions of $SV_ADMIN_USER failed (HTTP $code)"
  fi
  code="$(_sv_http GET /api/users/guest "$SV_ADMIN_USER" "$SV_ADMIN_PW")"
  if [[ "$code" == 200 ]]; then
    _sv_log "rabbitmq: deleting user guest"
    code="$(_sv_http DELETE /api/users/guest "$SV_ADMIN_USER" "$SV_ADMIN_PW")"
    [[ "$code" == 204 || "$code" == 404 ]] || _sv_die "deleting guest failed (HTTP $code)"
  fi
}

_sv_rmq_wait_ready() { # mode
  local deadline=$((SECONDS + SV_TIMEOUT))
  until _sv_rmq_healthy; do
    if ((SECONDS >= deadline)); then
      [[ "$1" == native ]] && _sv_tail "$SV_RMQ_LOG"
      _sv_die "rabbitmq not ready (AMQP 127.0.0.1:$SV_AMQP_PORT + $SV_MGMT_URL/api/overview) within ${SV_TIMEOUT}s"
    fi
    sleep 0.5
  done
}

_sv_rmq_stop_native() { # stops every node running on this state folder
  local pid node i stopped=0
  while read -r pid node; do
    [[ -n "$pid" ]] || continue
    stopped=1
    _sv_log "stopping rabbitmq ($node)"
    printf '%s\n' "$pid" >"$SV_RMQ_DIR/stop.pid"
    # with a pid file, `stop` waits until the VM has exited (~8 s)
    if ! (cd "$SV_RMQ_DIR" && exec 9>&- && timeout 60 runuser -u rabbitmq -- env "${_SV_RMQ_ENV[@]}" \
      "RABBITMQ_NODENAME=$node" "$SV_RMQ_BIN/rabbitmqctl" -q stop "$SV_RMQ_DIR/stop.pid") >/dev/null 2>&1; then
      _sv_log "rabbitmqctl stop failed; sending SIGTERM to $pid"
      kill "$pid" 2>/dev/null || true
    fi
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      _sv_log "rabbitmq still running: SIGKILL $pid"
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$SV_RMQ_DIR/stop.pid"
  done < <(_sv_rmq_state_nodes)
  ((stopped)) || _sv_log "rabbitmq ($SV_RMQ_NODE) is not running"
  # epmd is shared by every Erlang node on the host: stop it only when no node is registered
  local names
  if names="$(epmd -names 2>/dev/null)" && ! grep -q '^name ' <<<"$names"; then
    _sv_log "stopping epmd (no node registered)"
    epmd -kill >/dev/null 2>&1 || true
  fi
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL (native)

_sv_as_postgres() { (cd "$SV_PG_DIR" && exec 9>&- && runuser -u postgres -- "$@"); }

_sv_pg_running_native() { [[ -f "$SV_PG_DATA/PG_VERSION" ]] && _sv_as_postgres "$SV_PG_BIN/pg_ctl" -D "$SV_PG_DATA" status >/dev/null 2>&1; }

_sv_pg_fsync_wanted() { [[ "${AGENTBUS_PG_FSYNC:-on}" == off ]] && echo off || echo on; }

_sv_pg_init_native() {
  install -d -o postgres -g postgres -m 750 "$SV_PG_DIR"
  runuser -u postgres -- test -x "$SV_PG_DIR" -a -w "$SV_PG_DIR" ||
    _sv_die "user postgres cannot reach $SV_PG_DIR (is a parent folder mode 700, e.g. under /root?)"
  [[ -f "$SV_PG_DATA/PG_VERSION" ]] && return 0
  _sv_log "postgres: initdb $SV_PG_DATA"
  rm -rf "$SV_PG_DATA"
  install -d -o postgres -g postgres -m 700 "$SV_PG_DATA"
  local pwfile="$SV_PG_DIR/.pwfile"
  (umask 077 && printf '%s\n' "$SV_PG_SUPER_PW" >"$pwfile")
  chown postgres:postgres "$pwfile"
  if ! _sv_as_postgres "$SV_PG_BIN/initdb" -D "$SV_PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 --pwfile="$pwfile" >"$SV_PG_DIR/initdb.log" 2>&1; then
    rm -f "$pwfile"
    _sv_tail "$SV_PG_DIR/initdb.log"
    _sv_die "initdb failed"
  fi
  rm -f "$pwfile"
}

_sv_pg_start_native() { # [restart]
  local fsync action=start
  fsync="$(_sv_pg_fsync_wanted)"
  [[ "${1:-}" == restart ]] && action=restart
  if [[ "$action" == start ]] && _sv_port_open "$SV_PG_PORT"; then
    _sv_port_owner "$SV_PG_PORT"
    _sv_die "port $SV_PG_PORT is in use by another process; set AGENTBUS_POSTGRES_PORT"
  fi
  _sv_log "postgres: $action (127.0.0.1:$SV_PG_PORT, fsync=$fsync)"
  if ! _sv_as_postgres "$SV_PG_BIN/pg_ctl" -D "$SV_PG_DATA" -l "$SV_PG_LOG" -w -t "$SV_TIMEOUT" -m fast \
    -o "-c listen_addresses=$SV_HOST -p $SV_PG_PORT -k $SV_PG_DIR -c fsync=$fsync" "$action" >/dev/null 2>&1; then
    _sv_tail "$SV_PG_LOG"
    _sv_die "postgres did not start within ${SV_TIMEOUT}s"
  fi
}

_sv_pg_isready() {
  if [[ -x "$SV_PG_BIN/pg_isready" ]]; then
    "$SV_PG_BIN/pg_isready" -q -h "$SV_HOST" -p "$SV_PG_PORT"
  else
    _sv_port_open "$SV_PG_PORT" && _sv_compose exec -T postgres pg_isready -q -h 127.0.0.1 >/dev/null 2>&1
  fi
}

_sv_pg_wait_ready() { # mode
  local deadline=$((SECONDS + SV_TIMEOUT))
  until _sv_pg_isready; do
    if ((SECONDS >= deadline)); then
      [[ "$1" == native ]] && _sv_tail "$SV_PG_LOG"
      _sv_die "postgres not ready on 127.0.0.1:$SV_PG_PORT within ${SV_TIMEOUT}s"
    fi
    sleep 0.2
  done
}

# superuser psql: unix socket with local trust (native) or inside the container (docker)
_sv_psql_super() { # mode, psql args...
  local mode="$1"
  shift
  if [[ "$mode" == native ]]; then
    _sv_as_postgres "$SV_PG_BIN/psql" -X -h "$SV_PG_DIR" -p "$SV_PG_PORT" -U postgres -d postgres "$@"
  else
    _sv_compose exec -T postgres psql -X -U postgres -d postgres "$@"
  fi
}

# login over TCP with a password (as clients will); prints the query's result
_sv_pg_login() { # mode user password database query
  if [[ "$1" == native ]]; then
    PGPASSWORD="$3" PGCONNECT_TIMEOUT=5 "$SV_PG_BIN/psql" -X -qAt -h "$SV_HOST" -p "$SV_PG_PORT" -U "$2" -d "$4" -c "$5" 2>/dev/null
  else
    _sv_compose exec -T -e "PGPASSWORD=$3" postgres psql -X -qAt -h 127.0.0.1 -U "$2" -d "$4" -c "$5" 2>/dev/null
  fi
}

_sv_pg_provision() { # mode
  if _sv_pg_login "$1" postgres "$SV_PG_SUPER_PW" postgres 'select 1' >/dev/null &&
    [[ "$(_sv_pg_login "$1" agentbus "$SV_PG_APP_PW" agentbus \
      'select d.datdba = r.oid from pg_database d, pg_roles r where d.datname = current_database() and r.rolname = current_user')" == t ]]; then
    return 0
  fi
  _sv_log "postgres: provisioning role and database agentbus"
  _sv_psql_super "$1" -q -v ON_ERROR_STOP=1 >/dev/null <<EOF || _sv_die "postgres provisioning failed"
\\set supw '$SV_PG_SUPER_PW'
\\set apw '$SV_PG_APP_PW'
ALTER ROLE postgres PASSWORD :'supw';
SELECT 'CREATE ROLE agentbus LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'agentbus') \\gexec
ALTER ROLE agentbus LOGIN PASSWORD :'apw';
SELECT 'CREATE DATABASE agentbus OWNER agentbus' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'agentbus') \\gexec
ALTER DATABASE agentbus OWNER TO agentbus;
EOF
  [[ "$(_sv_pg_login "$1" agentbus "$SV_PG_APP_PW" agentbus 'select 1')" == 1 ]] ||
    _sv_die "postgres: role agentbus cannot log in after provisioning"
}

_sv_pg_stop_native() {
  if _sv_pg_running_native; then
    _sv_log "stopping postgres ($SV_PG_DATA)"
    _sv_as_postgres "$SV_PG_BIN/pg_ctl" -D "$SV_PG_DATA" -w -t 60 stop -m fast >/dev/null ||
      { _sv_tail "$SV_PG_LOG"; _sv_die "pg_ctl stop failed"; }
  else
    _sv_log "postgres ($SV_PG_DATA) is not running"
  fi
}

# ---------------------------------------------------------------------------------------------
# docker

_sv_docker_engine() { command -v docker >/dev/null && timeout 5 docker info >/dev/null 2>&1; }
_sv_compose() { docker compose -f "$SV_COMPOSE_FILE" "$@"; }
_sv_compose_rabbitmqctl() { _sv_compose exec -T "${SV_COMPOSE_RMQ_SERVICE:-rabbitmq}" rabbitmqctl "$@"; }

_sv_pick_mode() {
  case "${AGENTBUS_SERVERS_MODE:-auto}" in
    native) SV_MODE=native ;;
    docker)
      _sv_docker_engine || _sv_die "AGENTBUS_SERVERS_MODE=docker but no Docker engine answers"
      [[ -f "$SV_COMPOSE_FILE" ]] || _sv_die "no compose file at $SV_COMPOSE_FILE"
      SV_MODE=docker
      ;;
    auto)
      if [[ -f "$SV_COMPOSE_FILE" ]] && _sv_docker_engine; then SV_MODE=docker; else SV_MODE=native; fi
      ;;
    *) _sv_die "AGENTBUS_SERVERS_MODE must be auto, native or docker" ;;
  esac
}

_sv_export_for_compose() {
  export AGENTBUS_RABBITMQ_PORT="$SV_AMQP_PORT" AGENTBUS_RABBITMQ_MANAGEMENT_PORT="$SV_MGMT_PORT" \
    AGENTBUS_POSTGRES_PORT="$SV_PG_PORT" AGENTBUS_RABBITMQ_ADMIN_USER="$SV_ADMIN_USER" \
    AGENTBUS_RABBITMQ_ADMIN_PASSWORD="$SV_ADMIN_PW" AGENTBUS_POSTGRES_SUPERUSER_PASSWORD="$SV_PG_SUPER_PW" \
    AGENTBUS_POSTGRES_AGENTBUS_PASSWORD="$SV_PG_APP_PW"
}

# ---------------------------------------------------------------------------------------------
# commands

_sv_lock() {
  exec 9>"$SV_STATE/.lock"
  flock -w 120 9 || _sv_die "another servers.sh holds $SV_STATE/.lock"
}

# both servers healthy in the recorded mode, users in place, fsync as asked: nothing to do
_sv_all_good() {
  local mode="$1"
  if [[ "$SV_ONLY" != postgres ]]; then
    _sv_rmq_healthy || return 1
    [[ "$(_sv_http GET /api/users/guest "$SV_ADMIN_USER" "$SV_ADMIN_PW")" == 404 ]] || return 1
  fi
  _sv_pg_isready 2>/dev/null || return 1
  [[ "$(_sv_pg_login "$mode" agentbus "$SV_PG_APP_PW" agentbus 'select 1')" == 1 ]] || return 1
  local fsync
  fsync="$(_sv_pg_login "$mode" postgres "$SV_PG_SUPER_PW" postgres 'show fsync')" || return 1
  if [[ "$mode" == native && -n "${AGENTBUS_PG_FSYNC:-}" && "$fsync" != "$(_sv_pg_fsync_wanted)" ]]; then
    return 1
  fi
  [[ "$fsync" == off ]] && _sv_log "postgres runs with fsync=off"
  return 0
}

# A state folder of ops/lib/cluster.sh holds three RabbitMQ nodes this file does not know about.
_sv_refuse_cluster() {
  [[ "$SV_ONLY" == postgres || ! -e "$SV_CLUSTER_MARKER" ]] ||
    _sv_die "$SV_STATE holds a RabbitMQ cluster: use ops/lib/cluster.sh (or another AGENTBUS_STATE_DIR)"
}

# the compose services up/down handle
_sv_compose_services() { if [[ "$SV_ONLY" == postgres ]]; then echo postgres; else echo rabbitmq postgres; fi; }

servers_up() (
  set -euo pipefail
  _sv_config
  _sv_refuse_cluster
  _sv_prepare_state
  _sv_lock
  _sv_load_secrets

  # fast path: recorded mode still healthy
  local recorded
  recorded="$(cat "$SV_MODE_FILE" 2>/dev/null || true)"
  if [[ -n "$recorded" ]] && [[ -s "$SV_ENV_FILE" || "$SV_ONLY" == postgres ]] && _sv_all_good "$recorded"; then
    SV_MODE="$recorded"
    _sv_ensure_packages "$SV_MODE"
    if [[ "$SV_ONLY" == postgres ]]; then
      _sv_log "postgres already up ($SV_MODE)"
    else
      _sv_write_env
      _sv_log "rabbitmq and postgres already up ($SV_MODE)"
    fi
    return 0
  fi

  _sv_pick_mode
  _sv_ensure_packages "$SV_MODE"
  local services
  read -r -a services <<<"$(_sv_compose_services)"
  if [[ "$SV_MODE" == docker ]]; then
    _sv_export_for_compose
    _sv_log "docker compose up ${services[*]} ($SV_COMPOSE_FILE)"
    _sv_compose up -d --wait "${services[@]}" 9>&- >&2 || _sv_die "docker compose up failed"
  else
    ((EUID == 0)) || _sv_die "native mode needs root (servers run as rabbitmq/postgres via runuser)"
    # postgres first: it is up in well under a second, rabbitmq takes a few
    _sv_pg_init_native
    if ! _sv_pg_running_native; then
      _sv_pg_start_native
    elif [[ "$(sed -n 4p "$SV_PG_DATA/postmaster.pid" 2>/dev/null)" != "$SV_PG_PORT" ]]; then
      _sv_log "postgres: running on another port: restarting"
      _sv_pg_stop_native
      _sv_pg_start_native
    elif [[ -n "${AGENTBUS_PG_FSYNC:-}" ]] && _sv_pg_wait_ready native &&
      [[ "$(_sv_psql_super native -qAt -c 'show fsync' 2>/dev/null)" != "$(_sv_pg_fsync_wanted)" ]]; then
      _sv_pg_start_native restart
    fi
    if [[ "$SV_ONLY" != postgres ]] && ! _sv_rmq_healthy; then _sv_rmq_start_native; fi
  fi
  _sv_pg_wait_ready "$SV_MODE"
  _sv_pg_provision "$SV_MODE"
  if [[ "$SV_ONLY" == postgres ]]; then
    # the caller writes $STATE/env; the mode is recorded for down
    [[ "$(cat "$SV_MODE_FILE" 2>/dev/null)" == "$SV_MODE" ]] || printf '%s\n' "$SV_MODE" >"$SV_MODE_FILE"
    _sv_log "up ($SV_MODE): postgres 127.0.0.1:$SV_PG_PORT"
    return 0
  fi
  _sv_rmq_provision "$SV_MODE"
  _sv_rmq_wait_ready "$SV_MODE"
  _sv_write_env
  _sv_log "up ($SV_MODE): rabbitmq 127.0.0.1:$SV_AMQP_PORT (management $SV_MGMT_URL), postgres 127.0.0.1:$SV_PG_PORT; env: $SV_ENV_FILE"
)

# `down`'s one optional argument: prints 1 for --purge, 0 without; anything else is an error
# (cluster.sh's down reads it the same way)
_sv_purge_argument() { # args...
  local purge=0 arg
  for arg in "$@"; do
    case "$arg" in
      --purge) purge=1 ;;
      *) _sv_die "down: unknown argument '$arg' (only --purge)" ;;
    esac
  done
  echo "$purge"
}

servers_down() (
  set -euo pipefail
  local purge
  purge="$(_sv_purge_argument "$@")"
  _sv_config
  if [[ ! -d "$SV_STATE" ]]; then
    _sv_log "no state folder $SV_STATE: nothing to stop"
    return 0
  fi
  _sv_refuse_cluster
  _sv_lock
  local mode services
  mode="$(cat "$SV_MODE_FILE" 2>/dev/null || echo native)"
  read -r -a services <<<"$(_sv_compose_services)"
  if [[ "$mode" == docker ]]; then
    if _sv_docker_engine && [[ -f "$SV_COMPOSE_FILE" ]]; then
      _sv_load_secrets
      _sv_export_for_compose # the compose file may interpolate them
      if ((purge)); then
        _sv_log "docker compose rm -s -f -v ${services[*]}"
        _sv_compose rm -s -f -v "${services[@]}" >&2
      else
        _sv_log "docker compose stop ${services[*]}"
        _sv_compose stop "${services[@]}" >&2
      fi
    else
      _sv_log "recorded mode is docker but no engine/compose file answers: nothing stopped"
    fi
  else
    ((EUID == 0)) || _sv_die "native mode needs root"
    [[ "$SV_ONLY" == postgres ]] || _sv_rmq_stop_native
    _sv_pg_stop_native
  fi
  if ((purge)); then
    [[ -e "$SV_MARKER" ]] || _sv_die "refusing to delete $SV_STATE: no $SV_MARKER in it"
    _sv_log "deleting $SV_STATE"
    exec 9>&-
    rm -rf -- "$SV_STATE"
  fi
)

servers_restart() (
  set -euo pipefail
  local server="${1:-}"
  [[ "$server" == rabbitmq || "$server" == postgres ]] || _sv_die "restart: name rabbitmq or postgres (got '$server')"
  (($# == 1)) || _sv_die "restart: one server only"
  _sv_config
  [[ "$SV_ONLY" != postgres || "$server" == postgres ]] || _sv_die "restart: AGENTBUS_SERVERS_ONLY=postgres"
  _sv_refuse_cluster
  [[ -s "$SV_ENV_FILE" ]] || _sv_die "no $SV_ENV_FILE yet: run ops/lib/servers.sh up"
  _sv_lock
  _sv_load_secrets
  local mode
  mode="$(cat "$SV_MODE_FILE" 2>/dev/null || echo native)"
  if [[ "$mode" == docker ]]; then
    _sv_docker_engine || _sv_die "recorded mode is docker but no Docker engine answers"
    _sv_export_for_compose
    _sv_log "docker compose restart $server"
    _sv_compose restart "$server" 9>&- >&2 || _sv_die "docker compose restart $server failed"
  else
    ((EUID == 0)) || _sv_die "native mode needs root"
    if [[ "$server" == rabbitmq ]]; then
      _sv_rmq_stop_native
      _sv_rmq_start_native
    else
      _sv_pg_stop_native
      _sv_pg_start_native
    fi
  fi
  if [[ "$server" == rabbitmq ]]; then _sv_rmq_wait_ready "$mode"; else _sv_pg_wait_ready "$mode"; fi
  _sv_log "$server restarted ($mode)"
)

servers_status() (
  set -euo pipefail
  _sv_config
  local mode rc=0 admin_pw="" line
  mode="$(cat "$SV_MODE_FILE" 2>/dev/null || echo none)"
  [[ -r "$SV_SECRETS/rabbitmq-agentbus-admin.password" ]] &&
    admin_pw="$(head -n 1 "$SV_SECRETS/rabbitmq-agentbus-admin.password")"

  line="rabbitmq down (amqp 127.0.0.1:$SV_AMQP_PORT, management $SV_MGMT_PORT)"
  if [[ "$SV_ONLY" == postgres ]]; then
    line=""
  elif _sv_port_open "$SV_AMQP_PORT"; then
    local code
    code="$(_sv_http GET /api/overview "$SV_ADMIN_USER" "$admin_pw")"
    if [[ "$code" == 200 ]]; then
      line="rabbitmq up (amqp 127.0.0.1:$SV_AMQP_PORT, management $SV_MGMT_URL, $mode)"
    else
      line="rabbitmq down (amqp port $SV_AMQP_PORT open but management API answered $code)"
      rc=3
    fi
  else
    rc=3
  fi
  [[ -z "$line" ]] || echo "$line"

  if "$SV_PG_BIN/pg_isready" -q -h "$SV_HOST" -p "$SV_PG_PORT" 2>/dev/null ||
    { [[ ! -x "$SV_PG_BIN/pg_isready" ]] && _sv_port_open "$SV_PG_PORT"; }; then
    echo "postgres up (127.0.0.1:$SV_PG_PORT, $mode)"
  else
    echo "postgres down (127.0.0.1:$SV_PG_PORT)"
    rc=3
  fi
  return "$rc"
)

servers_env_file() (
  set -euo pipefail
  _sv_config
  [[ -s "$SV_ENV_FILE" ]] || _sv_die "no $SV_ENV_FILE yet: run ops/lib/servers.sh up"
  printf '%s\n' "$SV_ENV_FILE"
)

servers_load_env() {
  local f
  f="$(servers_env_file)" || return 1
  # shellcheck source=/dev/null
  . "$f"
}

_sv_usage() {
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  cmd="${1:-}"
  shift || true
  case "$cmd" in
    up) servers_up "$@" ;;
    down) servers_down "$@" ;;
    restart) servers_restart "$@" ;;
    status) servers_status "$@" ;;
    env) servers_env_file "$@" ;;
    -h | --help | help) _sv_usage ;;
    *)
      _sv_usage
      exit 2
      ;;
  esac
fi
