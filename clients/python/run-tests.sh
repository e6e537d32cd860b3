#!/usr/bin/env bash
# Installs this package into a fresh venv (proving `pip install` works offline, with Debian's
# python3-pika, python3-pytest and python3-setuptools from the system site) and runs its pytest
# tests there. Integration tests run when AGENTBUS_RABBITMQ_HOST, AGENTBUS_AGENT_ID and
# AGENTBUS_AGENT_PASSWORD are set (see tests/conftest.py), and are skipped, with the reason, otherwise.
#   bash clients/python/run-tests.sh [pytest arguments]
# State (the venv, pip's log) goes under $AGENTBUS_STATE_DIR (default /tmp/agentbus-python).
# Exit status: pytest's, or 2 when the venv or the install fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${AGENTBUS_STATE_DIR:-/tmp/agentbus-python}"
python=/usr/bin/python3   # Debian's, whose site has python3-pika; not a pyenv one on PATH
venv="$state/venv"

log() { printf '[python-client] %s\n' "$*" >&2; }

unset PYTHONPATH PYTHONHOME
export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ in the work tree
mkdir -p "$state"
rm -rf "$venv"
if ! "$python" -m venv --system-site-packages "$venv" >"$state/venv.log" 2>&1; then
  cat "$state/venv.log" >&2
  log "cannot make a venv with $python: install python3-venv"
  exit 2
fi
# A copy of the sources, so the build leaves nothing (build/, *.egg-info) in the work tree.
rm -rf "$state/src" && mkdir -p "$state/src"
cp -r "$here/pyproject.toml" "$here/README.md" "$here/src" "$state/src/"
if ! "$venv/bin/python" -m pip install --no-build-isolation --no-deps --no-index --disable-pip-version-check \
    "$state/src" >"$state/pip.log" 2>&1; then
  cat "$state/pip.log" >&2
  log "pip install of $here failed (needs python3-pip, python3-setuptools and python3-wheel)"
  exit 2
fi
log "installed $("$venv/bin/python" -c 'import agentbus, sys; sys.stdout.write(agentbus.__file__)')"

cd "$here"
set +e
# -p no:cacheprovider: write nothing into the work tree
"$venv/bin/python" -m pytest -p no:cacheprovider -rs "$here/tests" "$@"
status=$?
set -e
exit "$status"
