"""Names, ids and body rules of the wire contract (contracts/README.md), with no I/O."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .errors import ConfigurationError, InvalidProposalError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5672
DEFAULT_VHOST = "agentbus"
DEFAULT_GATEWAY_URL = "http://127.0.0.1:5105"

PROPOSALS_EXCHANGE = "agentbus.proposals"
SPEND_REPORTS_EXCHANGE = "agentbus.spend-reports"
RUN_REPORTS_EXCHANGE = "agentbus.run-reports"
REPLY_QUEUE_PREFIX = "agentbus.agent."
CONTENT_TYPE = "application/json"
PERSISTENT = 2
TRACE_HEADER = "MT-Activity-Id"

POLICY_USER = "agentbus-policy"
EXECUTOR_USER_PREFIX = "agentbus-executor-"

AGENT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
TOOL = AGENT_ID
OPERATION = re.compile(r"^[a-z0-9_-]{1,64}$")
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
REPORT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")
ACTION_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def reply_queue(agent_id: str) -> str:
    return REPLY_QUEUE_PREFIX + agent_id


def executor_user(tool: str) -> str:
    return EXECUTOR_USER_PREFIX + tool


def may_report_outcome(tool: str | None, sender: str | None) -> bool:
    """BrokerUsers.MayReportOutcome: that tool's executors, or policy (which copies outcomes to duplicates)."""
    return bool(tool) and sender is not None and (sender == executor_user(tool) or sender == POLICY_USER)  # type: ignore[arg-type]


def uuid7() -> str:
    """A version 7 UUID (RFC 9562): 48 bits of Unix milliseconds, then random bits; time-ordered."""
    value = (int(time.time() * 1000) & ((1 << 48) - 1)) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuid.UUID(int=value))


def message_id_for(subject: str, step: str) -> str:
    """MessageIds.For: RFC 9562 version 8 from SHA-256 of "agentbus\\n{step}\\n{subject}"."""
    raw = bytearray(hashlib.sha256(f"agentbus\n{step}\n{subject}".encode("utf-8")).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80
    raw[8] = (raw[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(raw)))


def run_completed_message_id(agent_id: str, run_id: str) -> str:
    """One id per run, so a report resent after a lost confirm is recognised as the same message."""
    return message_id_for(f"{agent_id}:{run_id}", "RunCompleted")


def traceparent() -> str:
    return "00-%s-%s-01" % (uuid.uuid4().hex, uuid.uuid4().hex[:16])


def split_operation(tool: str, operation: str | None) -> tuple[str, str | None]:
    """Operation names have no dots, tool names may: "a.b.refund" is operation refund of tool a.b."""
    if operation is not None:
        return tool, operation
    head, dot, tail = tool.rpartition(".")
    return (head, tail) if dot and head and tail else (tool, None)


def _to_json(value: Any, what: str) -> bytes:
    def default(item: Any) -> Any:
        if isinstance(item, Decimal):
            return float(item)
        raise TypeError(f"{type(item).__name__} is not JSON")

    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=default).encode("utf-8")
    except (TypeError, ValueError) as error:
        raise InvalidProposalError(f"{what} cannot be sent as JSON: {error}") from None


def proposal_body(
    agent_id: str,
    tool: str,
    operation: str | None,
    arguments: Mapping[str, Any],
    run_id: str,
    action_id: str,
    idempotency_key: str | None = None,
    intent: str | None = None,
) -> bytes:
    """The ActionProposed body, checked against the contract's field rules so mistakes fail here, not as a denial later."""
    if not isinstance(tool, str) or not TOOL.match(tool):
        raise InvalidProposalError(f"tool {tool!r} is not a tool name (1-64 of a-z 0-9 . _ -, starting with a letter or digit)")
    if operation is not None and (not isinstance(operation, str) or not OPERATION.match(operation)):
        raise InvalidProposalError(f"operation {operation!r} is not an operation name (1-64 of a-z 0-9 _ -)")
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        raise InvalidProposalError(f"run_id {run_id!r} must be 1-128 of A-Z a-z 0-9 . _ : -, starting with a letter or digit")
    if not isinstance(action_id, str) or not ACTION_ID.match(action_id):
        raise InvalidProposalError(f"action_id {action_id!r} is not a UUID in the 8-4-4-4-12 hex form")
    if not isinstance(arguments, Mapping):
        raise InvalidProposalError(f"arguments must be a mapping (a JSON object), not {type(arguments).__name__}")
    if idempotency_key is not None and (not isinstance(idempotency_key, str) or len(idempotency_key) > 200 or CONTROL.search(idempotency_key)):
        raise InvalidProposalError("idempotency_key must be a string of at most 200 characters without control characters")
    if intent is not None and (not isinstance(intent, str) or len(intent) > 2000 or "\x00" in intent):
        raise InvalidProposalError("intent must be a string of at most 2000 characters without NUL")
    body: dict[str, Any] = {"actionId": action_id, "runId": run_id, "agentId": agent_id, "tool": tool, "arguments": dict(arguments)}
    if operation is not None:
        body["operation"] = operation
    if idempotency_key is not None:
        body["idempotencyKey"] = idempotency_key
    if intent is not None:
        body["intent"] = intent
    return _to_json(body, "the proposal")


def spend_body(agent_id: str, report_id: str, run_id: str, amount_usd: Decimal | float | int, category: str, description: str | None) -> bytes:
    if not REPORT_ID.match(report_id):
        raise InvalidProposalError(f"report_id {report_id!r} must be 1-200 of A-Z a-z 0-9 . _ : -, starting with a letter or digit")
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        raise InvalidProposalError(f"run_id {run_id!r} must be 1-128 of A-Z a-z 0-9 . _ : -, starting with a letter or digit")
    if isinstance(amount_usd, bool) or not isinstance(amount_usd, (Decimal, int, float)):
        raise InvalidProposalError("amount_usd must be a number")
    amount = Decimal(str(amount_usd))
    if not amount.is_finite() or amount < 0 or amount > 1_000_000:
        raise InvalidProposalError(f"amount_usd must be between 0 and 1000000, not {amount_usd}")
    if not isinstance(category, str) or not 1 <= len(category) <= 64:
        raise InvalidProposalError("category must be 1-64 characters, e.g. 'inference'")
    if description is not None and (not isinstance(description, str) or len(description) > 2000):
        raise InvalidProposalError("description must be at most 2000 characters")
    return _to_json({"reportId": report_id, "agentId": agent_id, "runId": run_id, "amountUsd": amount,
                     "category": category, "description": description}, "the spend report")


def run_completed_body(agent_id: str, run_id: str, succeeded: bool, summary: str | None) -> bytes:
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        raise InvalidProposalError(f"run_id {run_id!r} must be 1-128 of A-Z a-z 0-9 . _ : -, starting with a letter or digit")
    if not isinstance(succeeded, bool):
        raise InvalidProposalError("succeeded must be True or False")
    return _to_json({"runId": run_id, "agentId": agent_id, "succeeded": succeeded, "summary": summary}, "the run report")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One RabbitMQ node."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_endpoints(text: str, default_port: int, what: str = "endpoints") -> tuple[Endpoint, ...]:
    """"host:port,host:port" (port optional), the form the .NET client and services read too
    (BrokerNodes.Parse): items are trimmed, empty ones skipped, and a host may not hold whitespace,
    '/', '@' or ':' (so no bare IPv6 addresses, as there)."""
    if not isinstance(text, str):
        raise ConfigurationError(f"{what} must be a string \"host:port,host:port\" or a list of \"host:port\", not {type(text).__name__}")
    nodes: list[Endpoint] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        host, colon, port_text = item.rpartition(":")
        if not colon:
            host, port = item, default_port
        else:
            if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
                raise ConfigurationError(f"{what}: '{item}' is not host:port (the port must be a number from 1 to 65535)")
            port = int(port_text)
        if not host or any(c.isspace() or c in "/@:" for c in host):
            raise ConfigurationError(f"{what}: '{item}' names no valid host")
        nodes.append(Endpoint(host, port))
    if not nodes:
        raise ConfigurationError(f"{what} names no broker node: expected host:port[,host:port...]")
    return tuple(nodes)


@dataclass(frozen=True, slots=True)
class Settings:
    """Where and as whom to connect. `from_env` fills what is not given from AGENTBUS_* variables.

    `endpoints` are the nodes to try, in order; `host` and `port` are the first of them."""

    agent_id: str
    password: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    vhost: str = DEFAULT_VHOST
    heartbeat: int = 15
    connect_timeout: float = 10.0
    publish_timeout: float = 10.0
    reconnect_timeout: float = 30.0
    endpoints: tuple[Endpoint, ...] = ()

    def __post_init__(self) -> None:
        if not self.endpoints:
            object.__setattr__(self, "endpoints", (Endpoint(self.host, self.port),))

    @property
    def nodes(self) -> str:
        return ", ".join(map(str, self.endpoints))

    def __repr__(self) -> str:  # never print the password
        return f"Settings(agent_id={self.agent_id!r}, endpoints={self.nodes!r}, vhost={self.vhost!r})"

    @classmethod
    def from_env(
        cls,
        agent_id: str | None = None,
        password: str | None = None,
        host: str | None = None,
        port: int | None = None,
        vhost: str | None = None,
        env: Mapping[str, str] | None = None,
        endpoints: str | Sequence[str] | None = None,
        **options: Any,
    ) -> Settings:
        """Nodes: the `endpoints` argument, else `host` (and `port`), else AGENTBUS_RABBITMQ_ENDPOINTS,
        else AGENTBUS_RABBITMQ_HOST and AGENTBUS_RABBITMQ_PORT. A node without a port gets `port`,
        AGENTBUS_RABBITMQ_PORT or 5672."""
        env = os.environ if env is None else env
        agent_id = agent_id or env.get("AGENTBUS_AGENT_ID") or ""
        password = password if password is not None else env.get("AGENTBUS_AGENT_PASSWORD", "")
        if not agent_id:
            raise ConfigurationError("no agent id: pass agent_id or set AGENTBUS_AGENT_ID (it is also the agent's RabbitMQ user name)")
        if not AGENT_ID.match(agent_id) or agent_id.startswith("agentbus-"):
            raise ConfigurationError(f"agent id {agent_id!r} is not an agent id (^[a-z0-9][a-z0-9._-]{{0,63}}$, not agentbus-*)")
        if not password:
            raise ConfigurationError(f"no password for agent '{agent_id}': pass password or set AGENTBUS_AGENT_PASSWORD")
        if port is None:
            text = env.get("AGENTBUS_RABBITMQ_PORT") or str(DEFAULT_PORT)
            try:
                port = int(text)
            except ValueError:
                raise ConfigurationError(f"AGENTBUS_RABBITMQ_PORT is not a number: {text!r}") from None
        if not 0 < port < 65536:
            raise ConfigurationError(f"port {port} is not a TCP port")
        for name in ("heartbeat", "connect_timeout", "publish_timeout", "reconnect_timeout"):
            if name in options and not (isinstance(options[name], (int, float)) and options[name] > 0 and not math.isinf(options[name])):
                raise ConfigurationError(f"{name} must be a positive number of seconds")
        if endpoints is not None and host is not None:
            raise ConfigurationError("pass endpoints or host, not both: endpoints names every node")
        if endpoints is not None:
            if not isinstance(endpoints, str):
                if not all(isinstance(item, str) for item in endpoints):
                    raise ConfigurationError("endpoints must be a string \"host:port,host:port\" or a list of \"host:port\" strings")
                endpoints = ",".join(endpoints)
            nodes = parse_endpoints(endpoints, port, "endpoints")
        elif host is None and (env.get("AGENTBUS_RABBITMQ_ENDPOINTS") or "").strip():
            nodes = parse_endpoints(env["AGENTBUS_RABBITMQ_ENDPOINTS"], port, "AGENTBUS_RABBITMQ_ENDPOINTS")
        else:
            nodes = (Endpoint(host or env.get("AGENTBUS_RABBITMQ_HOST") or DEFAULT_HOST, port),)
        return cls(
            agent_id=agent_id,
            password=password,
            host=nodes[0].host,
            port=nodes[0].port,
            vhost=vhost or env.get("AGENTBUS_RABBITMQ_VHOST") or DEFAULT_VHOST,
            endpoints=nodes,
            **options,
        )
