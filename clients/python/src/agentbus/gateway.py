"""The operations an agent is granted, from the MCP gateway's REST endpoint (standard library only).

GET {gateway}/v1/operations with HTTP Basic auth (agent id and broker password) answers 200 with
an OperationsOffer (contracts/AgentBus.Contracts/OfferedOperation.cs), 401 for a wrong credential
and 503 when the gateway cannot reach the broker, both with a JSON problem body {title, detail}.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import wire
from .errors import ConfigurationError, GatewayAuthenticationError, GatewayError
from .models import Operation


@dataclass(frozen=True, slots=True)
class OperationsOffer:
    """The operations one agent may call under one policy version."""

    agent_id: str
    policy_version: str | None
    operations: tuple[Operation, ...]

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> OperationsOffer:
        operations = body.get("operations")
        if not isinstance(operations, list) or not all(isinstance(o, Mapping) for o in operations):
            raise ValueError("'operations' must be a list of objects")
        agent_id = body.get("agentId")
        version = body.get("policyVersion")
        if not isinstance(agent_id, str) or (version is not None and not isinstance(version, str)):
            raise ValueError("'agentId' must be a string and 'policyVersion' a string or null")
        return cls(agent_id, version, tuple(Operation.from_json(o) for o in operations))


def gateway_url(url: str | None = None, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    url = url or env.get("AGENTBUS_GATEWAY_URL") or wire.DEFAULT_GATEWAY_URL
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"gateway URL {url!r} is not an absolute http(s) URL (AGENTBUS_GATEWAY_URL)")
    return url.rstrip("/")


def _problem(body: bytes) -> tuple[str | None, str | None]:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, None
    if not isinstance(document, dict):
        return None, None
    title, detail = document.get("title"), document.get("detail")
    return (title if isinstance(title, str) else None), (detail if isinstance(detail, str) else None)


def fetch_offer(agent_id: str, password: str, url: str | None = None, timeout: float = 10.0) -> OperationsOffer:
    base = gateway_url(url)
    endpoint = base + "/v1/operations"
    token = base64.b64encode(f"{agent_id}:{password}".encode("utf-8")).decode("ascii")
    request = urllib.request.Request(endpoint, headers={"Authorization": "Basic " + token, "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        body = error.read() or b""
        title, detail = _problem(body)
        said = ": " + "; ".join(x for x in (title, detail) if x) if (title or detail) else ""
        if error.code == 401:
            raise GatewayAuthenticationError(
                f"the gateway at {base} refused agent '{agent_id}' (401): check the agent id and password{said}",
                401, title, detail) from None
        if error.code == 503:
            raise GatewayError(f"the gateway at {base} cannot serve operations now (503), e.g. it cannot reach the broker{said}",
                               503, title, detail) from None
        raise GatewayError(f"GET {endpoint} answered {error.code} {error.reason}{said}", error.code, title, detail) from None
    except urllib.error.URLError as error:
        raise GatewayError(f"cannot reach the MCP gateway at {base}: {error.reason} (is AGENTBUS_GATEWAY_URL right?)") from None
    except (TimeoutError, OSError) as error:
        raise GatewayError(f"cannot reach the MCP gateway at {base}: {error!r}") from None
    try:
        document = json.loads(body.decode("utf-8"))
        if not isinstance(document, dict):
            raise ValueError("the body is not a JSON object")
        return OperationsOffer.from_json(document)
    except (UnicodeDecodeError, ValueError) as error:
        raise GatewayError(f"GET {endpoint} answered {status} with a body that is not an operations offer: {error}", status) from None
