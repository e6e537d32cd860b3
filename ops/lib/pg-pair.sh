#!/usr/bin/env bash
# A PostgreSQL 15 primary and a streaming hot standby on loopback, for failover drills and tests.
#
#   ops/lib/pg-pair.sh up               start the pair (idempotent): the running primary stays primary, the
#                                       other node becomes (again) its standby, re-seeded with pg_basebackup
#                                       when it is not one; writes $STATE/env
#   ops/lib/pg-pair.sh restart-primary  stop the primary (-m fast) and start it again, as an upgrade would
#   ops/lib/pg-pair.sh failover         stop the primary hard (-m immediate) and promote the standby
#   ops/lib/pg-pair.sh status           one line per node; exit 0 when a primary is up, 3 otherwise
#   ops/lib/pg-pair.sh down [--purge]   stop both nodes; --purge also deletes $STATE
#
# Clients reach whichever node is primary with Npgsql's multi-host connection string, as the
# services do in Kubernetes (deploy/kubernetes): $STATE/env exports AGENTBUS_POSTGRES_ADMIN as
#   Host=127.0.0.1:5462,127.0.0.1:5463;Target Session Attributes=read-write;Username=postgres;...
#
# The nodes are the Debian postgresql-15 binaries (installed with apt-get when missing), run as user
# postgres with runuser (needs root), on 127.0.0.1 only. Replication is synchronous (the primary's
# synchronous_standby_names='*'), so a commit a client saw is on the standby before a failover can lose
# the primary; the standby has no synchronous standby of its own, so once promoted it takes writes at once.
# This script never touches the shared server (ops/lib/servers.sh, port 5432, /var/lib/agentbus).
#
# Environment (all optional):
#   AGENTBUS_PGPAIR_DIR       state folder (default /tmp/agentbus-pgpair; never /var/lib/agentbus)
#   AGENTBUS_PGPAIR_PORT_A    first node's port (default 5462)
#   AGENTBUS_PGPAIR_PORT_B    second node's port (default 5463)
#   AGENTBUS_PGPAIR_SYNC      on (default) | off: asynchronous replication (a failover may lose the
#                             last commits the standby had not received)
#   AGENTBUS_PG_FSYNC         off = run both nodes with fsync=off (tests); default on
#   AGENTBUS_PGPAIR_TIMEOUT   seconds to wait for a node to start or a standby to stream (default 60)
#   AGENTBUS_PG_BIN           default /usr/lib/postgresql/15/bin
#
# State layout ($STATE): env (export lines, 0600), secrets/postgres.password, a/ and b/ (one node
# each: data/, postgres.log, the node's unix socket), .agentbus-pgpair (marker), .lock.

_PP_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

_pp_log() { printf '[pg-pair] %s\n' "$*" >&2; }
_pp_die() { _pp_log "error: $*"; exit 1; }
_pp_tail() { # file [lines]
  if [[ -f "$1" ]]; then
    _pp_log "last lines of $1:"
    tail -n "${2:-20}" "$1" | sed 's/^/[pg-pair]   /' >&2
  else
    _pp_log "(no log at $1)"
  fi
}

_pp_config() {
  PP_STATE="${AGENTBUS_PGPAIR_DIR:-/tmp/agentbus-pgpair}"
  [[ "$PP_STATE" == /* && "$PP_STATE" != *[[:space:]]* ]] ||
    _pp_die "AGENTBUS_PGPAIR_DIR must be an absolute path without spaces (got '$PP_STATE')"
  PP_STATE="$(realpath -m -- "$PP_STATE")"
  case "$PP_STATE/" in
    /var/lib/agentbus/* | /) _pp_die "refusing state folder $PP_STATE: it belongs to ops/lib/servers.sh (or is /)" ;;
  esac
  [[ "$PP_STATE" != "$(realpath -m -- "${AGENTBUS_STATE_DIR:-/var/lib/agentbus}")" ]] ||
    _pp_die "refusing state folder $PP_STATE: it is AGENTBUS_STATE_DIR, the shared servers' folder"
  PP_HOST=127.0.0.1
  PP_PORT_A="${AGENTBUS_PGPAIR_PORT_A:-5462}"
  PP_PORT_B="${AGENTBUS_PGPAIR_PORT_B:-5463}"
  local p
  for p in "$PP_PORT_A" "$PP_PORT_B"; do
    if ! [[ "$p" =~ ^[0-9]+$ ]] || ((p < 1024 || p > 65535)); then _pp_die "bad port '$p'"; fi
    ((p != ${AGENTBUS_POSTGRES_PORT:-5432})) || _pp_die "port $p is the shared server's: pick private ports"
  done
  [[ "$PP_PORT_A" != "$PP_PORT_B" ]] || _pp_die "the two nodes need two ports"
  PP_SYNC="${AGENTBUS_PGPAIR_SYNC:-on}"
  [[ "$PP_SYNC" == on || "$PP_SYNC" == off ]] || _pp_die "AGENTBUS_PGPAIR_SYNC must be on or off"
  PP_FSYNC=on
  [[ "${AGENTBUS_PG_FSYNC:-on}" == off ]] && PP_FSYNC=off
  PP_TIMEOUT="${AGENTBUS_PGPAIR_TIMEOUT:-60}"
  PP_BIN="${AGENTBUS_PG_BIN:-/usr/lib/postgresql/15/bin}"
  PP_SECRETS="$PP_STATE/secrets"
  PP_ENV_FILE="$PP_STATE/env"
  PP_MARKER="$PP_STATE/.agentbus-pgpair"
}

_pp_port() { [[ "$1" == a ]] && echo "$PP_PORT_A" || echo "$PP_PORT_B"; }
_pp_other() { [[ "$1" == a ]] && echo b || echo a; }
_pp_dir() { echo "$PP_STATE/$1"; }
_pp_data() { echo "$PP_STATE/$1/data"; }
_pp_logfile() { echo "$PP_STATE/$1/postgres.log"; }

# fd 9 (the state lock) is closed so that servers started from here do not inherit it
_pp_as_postgres() { (cd "$PP_STATE" && exec 9>&- && runuser -u postgres -- "$@"); }

# superuser psql on a node's unix socket (local trust); prints the result unaligned
_pp_psql() { # node sql
  _pp_as_postgres "$PP_BIN/psql" -X -qAt -v ON_ERROR_STOP=1 -h "$(_pp_dir "$1")" -p "$(_pp_port "$1")" -U postgres -d postgres -c "$2"
}

_pp_initialized() { [[ -f "$(_pp_data "$1")/PG_VERSION" ]]; }

_pp_running() { _pp_initialized "$1" && _pp_as_postgres "$PP_BIN/pg_ctl" -D "$(_pp_data "$1")" status >/dev/null 2>&1; }

_pp_ready() { "$PP_BIN/pg_isready" -q -h "$PP_HOST" -p "$(_pp_port "$1")" 2>/dev/null; }

# primary | standby | down
_pp_role() {
  local node="$1" recovery
  if ! _pp_running "$node" || ! _pp_ready "$node"; then echo down; return 0; fi
  recovery="$(_pp_psql "$node" 'select pg_is_in_recovery()' 2>/dev/null)" || { echo down; return 0; }
  [[ "$recovery" == f ]] && echo primary || echo standby
}

_pp_timeline() { # node: the timeline of its last checkpoint
  LC_ALL=C "$PP_BIN/pg_controldata" "$(_pp_data "$1")" 2>/dev/null | sed -n "s/^Latest checkpoint's TimeLineID: *//p" | grep -E '^[0-9]+$' || echo 0
}

_pp_primary() { # prints the node that is primary now, or nothing
  local n
  for n in a b; do
    [[ "$(_pp_role "$n")" == primary ]] && { echo "$n"; return 0; }
  done
  return 0
}

_pp_secret() {
  local f="$PP_SECRETS/postgres.password" pw=""
  if [[ ! -s "$f" ]]; then
    while ((${#pw} < 20)); do pw="$(head -c 24 /dev/urandom | base64 | tr -dc A-Za-z0-9)"; done
    (umask 077 && printf '%s\n' "$pw" >"$f.tmp" && mv -f "$f.tmp" "$f")
  fi
  head -n 1 "$f"
}

_pp_ensure_packages() {
  [[ -x "$PP_BIN/pg_ctl" && -x "$PP_BIN/pg_basebackup" && -x "$PP_BIN/psql" && -x "$PP_BIN/pg_isready" ]] && return 0
  ((EUID == 0)) || _pp_die "no PostgreSQL 15 in $PP_BIN and not root: cannot apt-get install postgresql-15"
  local log="$PP_STATE/apt.log" policy=/usr/sbin/policy-rc.d own_policy=0 rc=0
  # keep the package from creating (and starting) its own cluster on port 5432
  mkdir -p /etc/postgresql-common/createcluster.d
  printf 'create_main_cluster = false\n' >/etc/postgresql-common/createcluster.d/agentbus.conf
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# temporary, from ops/lib/pg-pair.sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  _pp_log "installing postgresql-15 (apt-get, log $log)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >"$log" 2>&1 &&
    apt-get install -y -q --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold postgresql-15 >>"$log" 2>&1 || rc=$?
  ((own_policy)) && rm -f "$policy"
  if ((rc != 0)); then
    _pp_tail "$log"
    _pp_die "apt-get install postgresql-15 failed"
  fi
}

_pp_prepare_state() {
  ((EUID == 0)) || _pp_die "needs root (the nodes run as user postgres via runuser)"
  if [[ ! -d "$PP_STATE" ]]; then
    mkdir -p "$PP_STATE" || _pp_die "cannot create $PP_STATE"
    chmod 755 "$PP_STATE"
  fi
  [[ -e "$PP_MARKER" ]] || : >"$PP_MARKER"
  mkdir -p "$PP_SECRETS"
  chmod 700 "$PP_SECRETS"
}

_pp_lock() {
  exec 9>"$PP_STATE/.lock"
  flock -w 120 9 || _pp_die "another pg-pair.sh holds $PP_STATE/.lock"
}

_pp_node_dir() { # node: the node's folder, owned by postgres
  install -d -o postgres -g postgres -m 750 "$(_pp_dir "$1")"
  runuser -u postgres -- test -x "$(_pp_dir "$1")" -a -w "$(_pp_dir "$1")" ||
    _pp_die "user postgres cannot reach $(_pp_dir "$1") (is a parent folder mode 700, e.g. under /root?)"
}

_pp_initdb() { # node
  local node="$1" data pwfile
  data="$(_pp_data "$node")"
  _pp_node_dir "$node"
  _pp_log "$node: initdb $data"
  rm -rf "$data"
  install -d -o postgres -g postgres -m 700 "$data"
  pwfile="$(_pp_dir "$node")/.pwfile"
  (umask 077 && printf '%s\n' "$PP_PW" >"$pwfile")
  chown postgres:postgres "$pwfile"
  if ! _pp_as_postgres "$PP_BIN/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 --pwfile="$pwfile" >"$(_pp_dir "$node")/initdb.log" 2>&1; then
    rm -f "$pwfile"
    _pp_tail "$(_pp_dir "$node")/initdb.log"
    _pp_die "$node: initdb failed"
  fi
  rm -f "$pwfile"
}

_pp_start() { # node [restart]
  local node="$1" action="${2:-start}" port
  port="$(_pp_port "$node")"
  # shellcheck disable=SC2016 # expanded by the inner bash
  if [[ "$action" == start ]] && timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$PP_HOST" "$port" 2>/dev/null; then
    ss -Hltnp "sport = :$port" 2>/dev/null | head -n 3 | sed 's/^/[pg-pair]   /' >&2 || true
    _pp_die "port $port is in use by another process; set AGENTBUS_PGPAIR_PORT_A / _B"
  fi
  _pp_log "$node: $action (127.0.0.1:$port, fsync=$PP_FSYNC)"
  # a standby that lost its primary asks again after wal_retrieve_retry_interval (5 s by default):
  # with synchronous replication, every commit on the restarted primary waits that long
  if ! _pp_as_postgres "$PP_BIN/pg_ctl" -D "$(_pp_data "$node")" -l "$(_pp_logfile "$node")" -w -t "$PP_TIMEOUT" -m fast \
    -o "-c listen_addresses=$PP_HOST -p $port -k $(_pp_dir "$node") -c fsync=$PP_FSYNC -c wal_retrieve_retry_interval=200ms" \
    "$action" >/dev/null 2>&1; then
    _pp_tail "$(_pp_logfile "$node")"
    _pp_die "$node did not start within ${PP_TIMEOUT}s"
  fi
}

_pp_stop() { # node mode
  _pp_running "$1" || return 0
  _pp_log "$1: stop -m $2"
  _pp_as_postgres "$PP_BIN/pg_ctl" -D "$(_pp_data "$1")" -w -t 60 stop -m "$2" >/dev/null ||
    { _pp_tail "$(_pp_logfile "$1")"; _pp_die "$1: pg_ctl stop failed"; }
}

_pp_wait_ready() { # node
  local deadline=$((SECONDS + PP_TIMEOUT))
  until _pp_ready "$1"; do
    ((SECONDS < deadline)) || { _pp_tail "$(_pp_logfile "$1")"; _pp_die "$1 not ready on 127.0.0.1:$(_pp_port "$1") within ${PP_TIMEOUT}s"; }
    sleep 0.1
  done
}

# the primary's view: its standby streams (and, with synchronous replication, is the synchronous one)
_pp_streaming() { # primary standby-node
  local want=streaming
  [[ "$(_pp_psql "$1" "select count(*) from pg_stat_replication where application_name = 'pgpair_$2' and state = '$want'" 2>/dev/null)" == 1 ]]
}

_pp_wait_streaming() { # primary standby seconds -> 0 when streaming in time
  local deadline=$((SECONDS + $3))
  until _pp_streaming "$1" "$2"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

_pp_set_sync() { # primary standby-node
  local want="''"
  [[ "$PP_SYNC" == on ]] && want="'pgpair_$2'"
  if [[ "$(_pp_psql "$1" "select setting from pg_settings where name = 'synchronous_standby_names'")" != "${want//\'/}" ]]; then
    _pp_log "$1: synchronous_standby_names = $want"
    _pp_psql "$1" "alter system set synchronous_standby_names = $want" >/dev/null
    _pp_psql "$1" 'select pg_reload_conf()' >/dev/null
  fi
}

_pp_seed_standby() { # primary standby
  local primary="$1" node="$2" data
  data="$(_pp_data "$node")"
  _pp_stop "$node" immediate
  _pp_node_dir "$node"
  _pp_log "$node: pg_basebackup from $primary (127.0.0.1:$(_pp_port "$primary"))"
  rm -rf "$data"
  install -d -o postgres -g postgres -m 700 "$data"
  # over the primary's unix socket (local trust), so primary_conninfo carries no password
  if ! _pp_as_postgres "$PP_BIN/pg_basebackup" -h "$(_pp_dir "$primary")" -p "$(_pp_port "$primary")" -U postgres \
    -D "$data" -R -X stream -c fast -d "application_name=pgpair_$node" >"$(_pp_dir "$node")/basebackup.log" 2>&1; then
    _pp_tail "$(_pp_dir "$node")/basebackup.log"
    _pp_die "$node: pg_basebackup failed"
  fi
  # the copy carries the primary's synchronous_standby_names: once promoted, with no standby of its
  # own, this node would then make every commit wait
  sed -i '/^synchronous_standby_names/d' "$data/postgresql.auto.conf"
  rm -f "$data/postmaster.pid"
  _pp_start "$node"
}

_pp_write_env() {
  local tmp="$PP_ENV_FILE.tmp"
  (
    umask 077
    cat >"$tmp" <<EOF
# written by ops/lib/pg-pair.sh up; source it
export AGENTBUS_PGPAIR_DIR='$PP_STATE'
export AGENTBUS_PGPAIR_HOSTS='$PP_HOST:$PP_PORT_A,$PP_HOST:$PP_PORT_B'
export AGENTBUS_POSTGRES_ADMIN='Host=$PP_HOST:$PP_PORT_A,$PP_HOST:$PP_PORT_B;Target Session Attributes=read-write;Username=postgres;Password=$PP_PW;Database=postgres'
EOF
  )
  if cmp -s "$tmp" "$PP_ENV_FILE"; then rm -f "$tmp"; else mv -f "$tmp" "$PP_ENV_FILE"; fi
}

# ---------------------------------------------------------------------------------------------
# commands

pgpair_up() (
  set -euo pipefail
  _pp_config
  _pp_prepare_state
  _pp_lock
  _pp_ensure_packages
  PP_PW="$(_pp_secret)"

  local primary standby role
  primary="$(_pp_primary)"
  if [[ -z "$primary" ]]; then
    # nothing primary runs: the stopped node that was primary last (no standby.signal, the later
    # timeline: after a failover the promoted node, not the one it replaced) starts again as one
    local n tli best=-1
    for n in a b; do
      if ! _pp_initialized "$n" || [[ -e "$(_pp_data "$n")/standby.signal" ]]; then continue; fi
      tli="$(_pp_timeline "$n")"
      if ((tli > best)); then primary="$n"; best="$tli"; fi
    done
    if [[ -z "$primary" ]]; then
      primary=a
      _pp_initialized a || _pp_initdb a
      if [[ -e "$(_pp_data a)/standby.signal" ]]; then
        _pp_die "both nodes are standbys and none runs: run 'down --purge' and 'up' again"
      fi
    fi
    _pp_running "$primary" || _pp_start "$primary"
    _pp_wait_ready "$primary"
    [[ "$(_pp_role "$primary")" == primary ]] || _pp_die "$primary started but is not a primary"
  fi
  standby="$(_pp_other "$primary")"

  role="$(_pp_role "$standby")"
  if [[ "$role" == primary ]]; then
    _pp_die "both nodes are primaries (split brain): run 'down --purge' and 'up' again"
  fi
  if [[ "$role" == down && -e "$(_pp_data "$standby")/standby.signal" ]]; then
    # a standby that was stopped: started again, it follows the primary if it still can
    _pp_start "$standby"
    _pp_wait_ready "$standby"
    role="$(_pp_role "$standby")"
  fi
  if [[ "$role" != standby ]] || ! _pp_wait_streaming "$primary" "$standby" 10; then
    # never a standby, a former primary (another timeline), or one that cannot follow: start over
    _pp_seed_standby "$primary" "$standby"
    _pp_wait_ready "$standby"
    _pp_wait_streaming "$primary" "$standby" "$PP_TIMEOUT" ||
      { _pp_tail "$(_pp_logfile "$standby")"; _pp_die "$standby does not stream from $primary"; }
  fi
  _pp_set_sync "$primary" "$standby"
  _pp_psql "$primary" "alter role postgres password '$PP_PW'" >/dev/null
  _pp_write_env
  _pp_log "up: primary $primary (127.0.0.1:$(_pp_port "$primary")), standby $standby (127.0.0.1:$(_pp_port "$standby")), replication $([[ "$PP_SYNC" == on ]] && echo synchronous || echo asynchronous); env: $PP_ENV_FILE"
)

pgpair_restart_primary() (
  set -euo pipefail
  _pp_config
  [[ -e "$PP_MARKER" ]] || _pp_die "no pair in $PP_STATE: run 'up' first"
  _pp_prepare_state
  _pp_lock
  local primary
  primary="$(_pp_primary)"
  [[ -n "$primary" ]] || _pp_die "no primary runs"
  _pp_start "$primary" restart
  _pp_wait_ready "$primary"
  _pp_log "$primary restarted (127.0.0.1:$(_pp_port "$primary"))"
)

pgpair_failover() (
  set -euo pipefail
  _pp_config
  [[ -e "$PP_MARKER" ]] || _pp_die "no pair in $PP_STATE: run 'up' first"
  _pp_prepare_state
  _pp_lock
  local primary standby
  primary="$(_pp_primary)"
  [[ -n "$primary" ]] || _pp_die "no primary runs"
  standby="$(_pp_other "$primary")"
  [[ "$(_pp_role "$standby")" == standby ]] || _pp_die "$standby is not a running standby: nothing to promote"
  _pp_stop "$primary" immediate
  _pp_log "$standby: promote"
  _pp_as_postgres "$PP_BIN/pg_ctl" -D "$(_pp_data "$standby")" -w -t "$PP_TIMEOUT" promote >/dev/null ||
    { _pp_tail "$(_pp_logfile "$standby")"; _pp_die "$standby: pg_ctl promote failed"; }
  [[ "$(_pp_role "$standby")" == primary ]] || _pp_die "$standby was promoted but is not a primary"
  _pp_log "failover: $standby (127.0.0.1:$(_pp_port "$standby")) is primary; $primary is down until the next 'up'"
)

pgpair_status() (
  set -euo pipefail
  _pp_config
  local n role rc=3 line
  for n in a b; do
    role="$(_pp_role "$n")"
    line="$n 127.0.0.1:$(_pp_port "$n") $role"
    if [[ "$role" == primary ]]; then
      rc=0
      [[ "$(_pp_role "$(_pp_other "$n")")" == standby ]] && ! _pp_streaming "$n" "$(_pp_other "$n")" && line+=" (standby not streaming)"
    fi
    echo "$line"
  done
  return "$rc"
)

pgpair_down() (
  set -euo pipefail
  local purge=0 arg
  for arg in "$@"; do
    case "$arg" in
      --purge) purge=1 ;;
      *) _pp_die "down: unknown argument '$arg' (only --purge)" ;;
    esac
  done
  _pp_config
  if [[ ! -d "$PP_STATE" ]]; then
    _pp_log "no state folder $PP_STATE: nothing to stop"
    return 0
  fi
  [[ -e "$PP_MARKER" ]] || _pp_die "$PP_STATE has no $PP_MARKER: not a pair of this script's, left alone"
  ((EUID == 0)) || _pp_die "needs root"
  _pp_lock
  local n
  for n in a b; do _pp_stop "$n" fast; done
  if ((purge)); then
    _pp_log "deleting $PP_STATE"
    exec 9>&-
    rm -rf -- "$PP_STATE"
  fi
)

_pp_usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; }

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  cmd="${1:-}"
  shift || true
  case "$cmd" in
    up) pgpair_up "$@" ;;
    restart-primary) pgpair_restart_primary "$@" ;;
    failover) pgpair_failover "$@" ;;
    status) pgpair_status "$@" ;;
    down) pgpair_down "$@" ;;
    -h | --help | help) _pp_usage ;;
    *)
      _pp_usage
      exit 2
      ;;
  esac
fi
