#!/usr/bin/env bash
# http-ok.sh PORT PATH: exit 0 when http://127.0.0.1:PORT/PATH answers 200. The container healthcheck
# for the AgentBus hosts: the runtime image has bash but neither curl nor wget.
set -euo pipefail
port="${1:?usage: http-ok.sh PORT PATH}"
path="${2:?usage: http-ok.sh PORT PATH}"
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" >&3
IFS=' ' read -r -t 5 _ status _ <&3
[[ "${status%$'\r'}" == 200 ]]
