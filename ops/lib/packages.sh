#!/usr/bin/env bash
# Debian packages the tests need beyond the servers (ops/lib/servers.sh installs those). Sourced by
# ops/test.sh. Installs only what is missing; needs root then, as apt-get does.

_pkg_log() { printf '[packages] %s\n' "$*" >&2; }

_pkg_installed() { [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]; }

# The approvals inbox is tested in a real browser: Debian's chromium, headless, driven by Playwright
# with ExecutablePath=/usr/bin/chromium (Playwright never downloads a browser of its own here).
# `agentbus tools import` is tested on GitHub's real OpenAPI spec, fetched with `npm pack`; the MCP
# gateway is driven by the official TypeScript MCP SDK, installed with npm and run with node.
# The Python package (clients/python) is installed into a venv with pip, offline, and tested with
# pytest: Debian's own packages, as PyPI is not reachable from the test machines.
packages_ensure_test() {
  local missing=() log="${PIPELINE_STATE:-/var/lib/agentbus}/logs/apt-test-packages.log" package
  _pkg_installed chromium && [[ -x /usr/bin/chromium ]] || missing+=(chromium)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  for package in python3-pika python3-pytest python3-setuptools python3-wheel python3-venv python3-pip; do
    _pkg_installed "$package" || missing+=("$package")
  done
  ((${#missing[@]} == 0)) && return 0

  if ((EUID != 0)); then
    _pkg_log "missing packages (${missing[*]}) and not root: cannot apt-get install"
    return 1
  fi
  mkdir -p "$(dirname "$log")"
  _pkg_log "installing ${missing[*]} (apt-get, log $log)"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
         DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 20 "$log" | sed 's/^/[packages]   /' >&2
    _pkg_log "apt-get install ${missing[*]} failed"
    return 1
  fi
}
