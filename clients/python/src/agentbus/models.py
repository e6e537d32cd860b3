"""The replies an agent reads and the operations it is offered, as typed, immutable dataclasses.

Field names are the wire's camelCase names in snake_case (contracts/README.md sections 3 and 5,
contracts/AgentBus.Contracts). `from_json` takes a decoded JSON object and raises ValueError when a
field the contract requires is missing or has the wrong type; fields added later are ignored.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

# Refusals of a command the policy service did not sign as delivered (ExecutionErrorCodes.UnsignedCommand):
# someone put a forged, altered or misrouted command on a tool's queue under this action's id. They end nothing.
UNSIGNED_COMMAND_CODES = frozenset(
    {"authorization_missing", "authorization_unknown_key", "authorization_invalid", "wrong_tool", "arguments_changed"}
)


class Decision(enum.StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    APPROVAL_REQUIRED = "approval_required"


def _str(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise ValueError(f"'{key}' must be a string, not {type(value).__name__}")
    return value


def _opt_str(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"'{key}' must be a string or null, not {type(value).__name__}")
    return value


def _bool(body: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"'{key}' must be true or false")
    return value


def _int(body: Mapping[str, Any], key: str) -> int:
    value = body.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"'{key}' must be a number")
    return int(value)


def _decimal(body: Mapping[str, Any], key: str) -> Decimal:
    value = body.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise ValueError(f"'{key}' must be a number")
    # Through str, so 0.002 stays 0.002 and not the binary float's expansion.
    return Decimal(str(value))


def _time(body: Mapping[str, Any], key: str) -> datetime | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"'{key}' must be an ISO 8601 time")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'{key}' is not an ISO 8601 time: {value!r}") from None


@dataclass(frozen=True, slots=True)
class ActionDecided:
    """The policy's decision. approval_required is not final: a second, final decision follows."""

    action_id: str | None
    run_id: str | None
    agent_id: str
    tool: str | None
    decision: Decision
    reason_code: str
    reason: str
    rule_id: str | None = None
    policy_version: str | None = None
    decided_at: datetime | None = None
    approval_id: str | None = None

    @property
    def is_final(self) -> bool:
        """Only a denial ends an action by itself; allowed waits for the outcome, approval_required for people."""
        return self.decision is Decision.DENIED

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ActionDecided:
        try:
            decision = Decision(_str(body, "decision"))
        except ValueError:
            raise ValueError(f"'decision' is not one of {', '.join(d.value for d in Decision)}: {body.get('decision')!r}") from None
        return cls(
            action_id=_opt_str(body, "actionId"),
            run_id=_opt_str(body, "runId"),
            agent_id=_opt_str(body, "agentId") or "",
            tool=_opt_str(body, "tool"),
            decision=decision,
            reason_code=_str(body, "reasonCode"),
            reason=_opt_str(body, "reason") or "",
            rule_id=_opt_str(body, "ruleId"),
            policy_version=_opt_str(body, "policyVersion"),
            decided_at=_time(body, "decidedAt"),
            approval_id=_opt_str(body, "approvalId"),
        )


@dataclass(frozen=True, slots=True)
class ActionSucceeded:
    """The tool ran. `result` is already redacted; `external_reference` is the id of the record the call created.

    `resolved_by` and `evidence` are set when an operator resolved an outcome-unknown action (from agentbus-policy only).
    """

    action_id: str
    run_id: str
    agent_id: str
    tool: str
    result: Any
    external_reference: str | None = None
    cost_usd: Decimal = Decimal(0)
    duration_ms: int = 0
    attempts: int = 0
    completed_at: datetime | None = None
    executor: str | None = None
    started_at: datetime | None = None
    resolved_by: str | None = None
    evidence: str | None = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ActionSucceeded:
        return cls(
            action_id=_str(body, "actionId"),
            run_id=_opt_str(body, "runId") or "",
            agent_id=_opt_str(body, "agentId") or "",
            tool=_str(body, "tool"),
            result=body.get("result"),
            external_reference=_opt_str(body, "externalReference"),
            cost_usd=_decimal(body, "costUsd"),
            duration_ms=_int(body, "durationMs"),
            attempts=_int(body, "attempts"),
            completed_at=_time(body, "completedAt"),
            executor=_opt_str(body, "executor"),
            started_at=_time(body, "startedAt"),
            resolved_by=_opt_str(body, "resolvedBy"),
            evidence=_opt_str(body, "evidence"),
        )


@dataclass(frozen=True, slots=True)
class ActionFailed:
    """The tool did not succeed, or the executor refused the command.

    `outcome_unknown`: the side effect may have happened; never retry it automatically.
    `refused`: nothing was attempted.
    `resolved_by`, `evidence`: an operator found the outcome-unknown action did not happen (from agentbus-policy only).
    """

    action_id: str
    run_id: str
    agent_id: str
    tool: str
    error_code: str
    error: str
    outcome_unknown: bool = False
    duration_ms: int = 0
    attempts: int = 0
    failed_at: datetime | None = None
    refused: bool = False
    executor: str | None = None
    started_at: datetime | None = None
    resolved_by: str | None = None
    evidence: str | None = None

    @property
    def ends_no_action(self) -> bool:
        """A refusal of a command the policy service never signed: the action it names may still get its own outcome."""
        return self.refused and self.error_code in UNSIGNED_COMMAND_CODES

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ActionFailed:
        return cls(
            action_id=_str(body, "actionId"),
            run_id=_opt_str(body, "runId") or "",
            agent_id=_opt_str(body, "agentId") or "",
            tool=_str(body, "tool"),
            error_code=_str(body, "errorCode"),
            error=_opt_str(body, "error") or "",
            outcome_unknown=_bool(body, "outcomeUnknown"),
            duration_ms=_int(body, "durationMs"),
            attempts=_int(body, "attempts"),
            failed_at=_time(body, "failedAt"),
            refused=_bool(body, "refused"),
            executor=_opt_str(body, "executor"),
            started_at=_time(body, "startedAt"),
            resolved_by=_opt_str(body, "resolvedBy"),
            evidence=_opt_str(body, "evidence"),
        )


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What became of one proposal: the final decision and, when it ran, its one outcome."""

    action_id: str
    decision: ActionDecided
    succeeded: ActionSucceeded | None = None
    failed: ActionFailed | None = None
    decision_inferred: bool = False
    """True when the outcome overtook the decision: an outcome implies the action was allowed."""

    @property
    def completed(self) -> bool:
        return self.succeeded is not None or self.failed is not None or self.decision.decision is Decision.DENIED

    @property
    def status(self) -> str:
        """denied, succeeded or failed."""
        if self.succeeded is not None:
            return "succeeded"
        if self.failed is not None:
            return "failed"
        return self.decision.decision.value


@dataclass(frozen=True, slots=True)
class Operation:
    """One catalog operation the agent is granted, as the MCP gateway offers it (OfferedOperation)."""

    name: str
    """The name a model calls it by: payments_refund. Map it back with `tool` and `operation`, never by parsing it."""
    tool: str
    operation: str
    title: str
    description: str
    input_schema: Mapping[str, Any] = field(default_factory=dict)
    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False
    risk: str = ""
    capabilities: tuple[str, ...] = ()
    approval: str | None = None
    """When a person must approve a call first, in words; None when never."""

    @property
    def qualified_name(self) -> str:
        """tool.operation, as propose() takes it."""
        return f"{self.tool}.{self.operation}"

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Operation:
        schema = body.get("inputSchema")
        if schema is None:
            schema = {}
        if not isinstance(schema, Mapping):
            raise ValueError("'inputSchema' must be a JSON object")
        capabilities = body.get("capabilities") or []
        if not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities):
            raise ValueError("'capabilities' must be a list of strings")
        return cls(
            name=_str(body, "name"),
            tool=_str(body, "tool"),
            operation=_str(body, "operation"),
            title=_opt_str(body, "title") or "",
            description=_opt_str(body, "description") or "",
            input_schema=schema,
            read_only=_bool(body, "readOnly"),
            destructive=_bool(body, "destructive"),
            idempotent=_bool(body, "idempotent"),
            risk=_opt_str(body, "risk") or "",
            capabilities=tuple(capabilities),
            approval=_opt_str(body, "approval"),
        )
