#!/usr/bin/env bash
# The Kubernetes manifests, checked offline: renders deploy/kubernetes/base and every overlay with
# kubectl 1.20's kustomize (Debian's kubernetes-client, the oldest kustomize an operator is likely to
# have, so the manifests use nothing newer), then validates every rendered object against the
# Kubernetes and KEDA schemas and AgentBus's own rules (tests/k8s/validate.mjs). Exits non-zero
# naming the object and the problem. Needs no cluster and no network after the first run.
#   ops/k8s-validate.sh
# First run: fetches kubernetes-client with apt-get download (unpacked under tests/k8s/.tools, so
# it never replaces another kubectl on the machine) unless the package is installed, and the pinned
# npm packages of tests/k8s/package-lock.json with npm ci.
set -euo pipefail

OPS_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$OPS_DIR/.." && pwd)"
TESTS="$REPO/tests/k8s"
TOOLS="$TESTS/.tools"

log() { printf '[k8s] %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

installed() { [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]; }

apt_install() {
  ((EUID == 0)) || die "missing $* and not root: cannot apt-get install"
  log "installing $* (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

# Debian's kubectl: the installed package's, or the package unpacked here. Never whatever `kubectl`
# is first on PATH, which may carry a newer kustomize that accepts what 1.20's does not.
kubectl_1_20() {
  if installed kubernetes-client; then
    echo /usr/bin/kubectl
    return
  fi
  local kubectl="$TOOLS/kubernetes-client/usr/bin/kubectl" download
  if [[ ! -x "$kubectl" ]]; then
    download="$(mktemp -d)"
    log "fetching Debian's kubernetes-client into $TOOLS"
    if ! (cd "$download" && apt-get download -q kubernetes-client >/dev/null 2>&1); then
      ((EUID == 0)) && DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
      (cd "$download" && apt-get download -q kubernetes-client >/dev/null) || die "apt-get download kubernetes-client failed"
    fi
    rm -rf "$TOOLS/kubernetes-client"
    mkdir -p "$TOOLS/kubernetes-client"
    dpkg-deb -x "$download"/kubernetes-client_*.deb "$TOOLS/kubernetes-client"
    rm -rf "$download"
  fi
  echo "$kubectl"
}

command -v node >/dev/null 2>&1 || apt_install nodejs
command -v npm >/dev/null 2>&1 || apt_install npm

# npm ci only when the lock file changed since the last install: a second run is offline and fast.
stamp="$TESTS/node_modules/.agentbus-lock.sha256"
lock_sum="$(sha256sum "$TESTS/package-lock.json" | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]]; then
  log "installing the validator's npm packages (npm ci, tests/k8s/package-lock.json)"
  (cd "$TESTS" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$lock_sum" > "$stamp"
fi

kubectl="$(kubectl_1_20)"
rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT

renders=()
for dir in "$REPO/deploy/kubernetes/base" "$REPO"/deploy/kubernetes/overlays/*/; do
  dir="${dir%/}"
  name="$(basename "$dir")"
  if ! "$kubectl" kustomize "$dir" > "$rendered/$name.yaml" 2> "$rendered/$name.err"; then
    sed 's/^/[k8s]   /' "$rendered/$name.err" >&2
    die "kustomize cannot render ${dir#"$REPO"/} ($("$kubectl" version --client --short 2>/dev/null | head -n 1))"
  fi
  renders+=("$name=$rendered/$name.yaml")
done

node "$TESTS/validate.mjs" "${renders[@]}"
