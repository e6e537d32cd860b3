#!/usr/bin/env bash
# Executors as the design means them (docs/executors.md, "What holds a tool's secret"): each runs as
# its own system user, from a home that holds only its own tool's secret and its own passwords,
# with an environment that names nothing else. Another tool's secret, the shared secrets folder and
# the administrators' passwords are unreadable to it: not merely unloaded, unreadable.
# Sourced, not run; needs root (useradd, chown, setpriv).
#
#   confine_executor_prepare TOOL STATE_DIR SECRETS_DIR PUBLIC_KEY TOOL_CONFIG APP_DIR [DB_PASSWORD_FILE]
#       creates the user agentbus-exec-TOOL and STATE_DIR/executors/TOOL/ (mode 700, owned by it)
#       with secrets/TOOL, rabbitmq.password, postgres.password, tools/TOOL.json and the policy
#       service's public key; copies the executor's build output APP_DIR to STATE_DIR/apps/executor
#       (root-owned, read-only to everyone), so the build tree itself may stay private.
#   confine_executor_start TOOL STATE_DIR LOG_FILE [ARGS...]
#       starts agentbus-executor --tool TOOL as that user with an environment of its own (the
#       variables listed in _CONFINE_PASSED, pointed at its home); prints the pid.

_CONFINE_PASSED='^(RabbitMq__|Database__ConnectionString=|Database__ApplyMigrations=|Executor__|Tool__|OTEL_|ASPNETCORE_|DOTNET_|Logging__|MASSTRANSIT_USAGE_TELEMETRY=)'

confine_executor_user() { printf 'agentbus-exec-%s' "$1"; }

confine_executor_home() { printf '%s/executors/%s' "$1" "$2"; }

confine_executor_prepare() {
  local tool="$1" state="$2" secrets="$3" public_key="$4" tool_config="$5" app="$6" db_password="${7:-}" catalog_file="${8:-}"
  [[ "$tool" =~ ^[a-z0-9][a-z0-9-]{0,17}$ ]] || { echo "confine: tool name '$tool' must be 1-18 of a-z, 0-9, - (it names a system user)" >&2; return 1; }
  [[ -s "$secrets/tools/$tool" ]] || { echo "confine: no secret for $tool in $secrets/tools" >&2; return 1; }
  local user home
  user="$(confine_executor_user "$tool")"
  home="$(confine_executor_home "$state" "$tool")"
  if ! id -u "$user" >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir "$home" --shell /usr/sbin/nologin "$user" 2>/dev/null ||
      id -u "$user" >/dev/null 2>&1 || { echo "confine: could not create the system user $user" >&2; return 1; }
  fi

  # Traversable, not listable: an executor can reach its own home by name and see no other.
  install -d -m 0711 -o root -g root "$state/executors" "$state/apps"
  rm -rf "$home"
  install -d -m 0700 -o "$user" -g "$user" "$home" "$home/secrets" "$home/tools"
  install -m 0400 -o "$user" -g "$user" "$secrets/tools/$tool" "$home/secrets/$tool"
  install -m 0400 -o "$user" -g "$user" "$secrets/rabbitmq/agentbus-executor-$tool" "$home/rabbitmq.password"
  if [[ -n "$db_password" ]]; then
    install -m 0400 -o "$user" -g "$user" "$db_password" "$home/postgres.password"
  fi
  install -m 0444 -o "$user" -g "$user" "$tool_config" "$home/tools/$tool.json"
  # A catalog tool reads its own operations only (tools/TOOL.json says Catalog: ../catalog).
  if [[ -n "$catalog_file" ]]; then
    install -d -m 0500 -o "$user" -g "$user" "$home/catalog"
    install -m 0444 -o "$user" -g "$user" "$catalog_file" "$home/catalog/$tool.yaml"
  fi
  install -m 0444 -o "$user" -g "$user" "$public_key" "$home/policy-signing.pub.pem"

  local target="$state/apps/executor"
  if [[ ! -f "$target/agentbus-executor.dll" ]] || ! diff -rq "$app" "$target" >/dev/null 2>&1; then
    rm -rf "$target.new"
    cp -R "$app" "$target.new"
    chown -R root:root "$target.new"
    chmod -R u=rwX,go=rX "$target.new"
    rm -rf "$target"
    mv "$target.new" "$target"
  fi
}

confine_executor_start() {
  local tool="$1" state="$2" log="$3"
  shift 3
  local user home
  user="$(confine_executor_user "$tool")"
  home="$(confine_executor_home "$state" "$tool")"
  local -a environment=(
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "HOME=$home" "DOTNET_CLI_HOME=$home"
    "RabbitMq__PasswordFile=$home/rabbitmq.password" "Executor__PolicyKeys=$home/policy-signing.pub.pem"
  )
  [[ -f "$home/postgres.password" ]] && environment+=("Database__PasswordFile=$home/postgres.password")
  local line
  while IFS= read -r line; do
    [[ "$line" =~ $_CONFINE_PASSED ]] || continue
    case "$line" in RabbitMq__PasswordFile=* | Executor__PolicyKeys=* | Database__PasswordFile=*) continue ;; esac
    environment+=("$line")
  done < <(env)

  (cd "$home" && exec env -i "${environment[@]}" \
      setpriv --reuid="$user" --regid="$user" --init-groups --inh-caps=-all --bounding-set=-all \
      /usr/bin/env dotnet "$state/apps/executor/agentbus-executor.dll" --tool "$tool" \
      --tools-directory "$home/tools" --secrets-directory "$home/secrets" "$@" >> "$log" 2>&1 < /dev/null) &
  echo $!
}
