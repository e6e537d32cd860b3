"""The synchronous client. Safe to use from several threads; replies are read by its I/O thread."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Mapping
from concurrent.futures import Future
from decimal import Decimal
from types import TracebackType
from typing import Any

from . import gateway, wire
from .errors import AgentBusTimeoutError, ConnectionLostError
from .models import ActionDecided, ActionResult, Decision, Operation
from .replies import ActionTracker, ReplyRouter, UnmatchedHandler
from .transport import Transport


def first_answer(tracker: ActionTracker) -> Future[ActionDecided]:
    """The first decision, or the decision an outcome implies: an action allowed at once gets no
    decision, and a re-sent proposal's may come after the outcome."""
    answer: Future[ActionDecided] = Future()

    def copy(source: Future[Any]) -> None:
        if answer.done():
            return
        try:
            if (error := source.exception()) is not None:
                answer.set_exception(error)
            else:
                result = source.result()
                answer.set_result(result.decision if isinstance(result, ActionResult) else result)
        except concurrent.futures.InvalidStateError:
            pass  # the other one was first

    tracker.first_decision.add_done_callback(copy)
    tracker.finished.add_done_callback(copy)
    return answer


def describe_wait(tracker: ActionTracker) -> str:
    known = tracker.first_decision.result() if tracker.first_decision.done() and tracker.first_decision.exception() is None else None
    if known is None:
        return "no decision yet"
    if known.decision is Decision.APPROVAL_REQUIRED:
        return f"approval {known.approval_id} is still waiting for people"
    return f"decided {known.decision.value}, no outcome yet"


class Core:
    """What both clients share: settings, the reply router and the I/O thread's transport."""

    def __init__(self, settings: wire.Settings, on_unmatched: UnmatchedHandler | None) -> None:
        self.settings = settings
        self.router = ReplyRouter(on_unmatched)
        self.transport = Transport(settings, self.router)

    def propose(self, tool: str, arguments: Mapping[str, Any], run_id: str, idempotency_key: str | None,
                intent: str | None, action_id: str | None, operation: str | None) -> tuple[str, Future[str]]:
        action_id = action_id or wire.uuid7()
        tool, operation = wire.split_operation(tool, operation)
        body = wire.proposal_body(self.settings.agent_id, tool, operation, arguments, run_id, action_id, idempotency_key, intent)
        message_id = wire.uuid7()
        # Tracked before it is sent: the answer may come back before the confirm does.
        self.router.track(action_id, tool, message_id)
        published = self.transport.publish(wire.PROPOSALS_EXCHANGE, body, "ActionProposed", message_id,
                                           headers={wire.TRACE_HEADER: wire.traceparent()})
        return action_id, published

    def spend(self, amount_usd: Decimal | float | int, category: str, run_id: str, description: str | None,
              report_id: str | None) -> tuple[str, Future[str]]:
        report_id = report_id or wire.uuid7()
        body = wire.spend_body(self.settings.agent_id, report_id, run_id, amount_usd, category, description)
        return report_id, self.transport.publish(wire.SPEND_REPORTS_EXCHANGE, body, "SpendReported")

    def run_completed(self, run_id: str, succeeded: bool, summary: str | None) -> Future[str]:
        body = wire.run_completed_body(self.settings.agent_id, run_id, succeeded, summary)
        return self.transport.publish(wire.RUN_REPORTS_EXCHANGE, body, "RunCompleted",
                                      wire.run_completed_message_id(self.settings.agent_id, run_id))

    def disrupted_since(self, reconnects: int) -> bool:
        """Whether the connection was lost since `reconnects` was read: a confirm late for that reason is
        still coming (the transport publishes the message again once reconnected) or fails on its own
        once reconnect_timeout is over, so it is worth waiting for rather than reported as a timeout."""
        return self.transport.reconnecting or self.transport.reconnects != reconnects

    def confirm_grace(self) -> float:
        return self.settings.reconnect_timeout + self.settings.publish_timeout

    def await_confirm(self, published: Future[str], what: str) -> str:
        reconnects = self.transport.reconnects
        try:
            return published.result(timeout=self.settings.publish_timeout)
        except concurrent.futures.TimeoutError:
            if not self.disrupted_since(reconnects):
                raise self.publish_timeout(what) from None
        try:
            return published.result(timeout=self.confirm_grace())
        except concurrent.futures.TimeoutError:
            raise self.publish_timeout(what) from None

    def publish_timeout(self, what: str) -> AgentBusTimeoutError:
        return AgentBusTimeoutError(
            f"the broker did not confirm {what} within {self.settings.publish_timeout:g} s; "
            "it may still arrive: retry with the same id, never a new one")


class AgentBusClient:
    """An agent's connection to AgentBus: propose actions, await their decisions and outcomes.

    >>> with AgentBusClient.connect() as client:            # settings from AGENTBUS_* variables
    ...     result = client.run("ticketing.create_ticket", {"title": "Login fails", "priority": "high"}, "run-1")
    """

    def __init__(self, core: Core) -> None:
        self._core = core

    @classmethod
    def connect(cls, agent_id: str | None = None, password: str | None = None, host: str | None = None,
                port: int | None = None, vhost: str | None = None, *, on_unmatched: UnmatchedHandler | None = None,
                **options: Any) -> AgentBusClient:
        """Connects as the agent's own broker user and starts reading its reply queue.

        Missing settings come from AGENTBUS_AGENT_ID, AGENTBUS_AGENT_PASSWORD, AGENTBUS_RABBITMQ_ENDPOINTS
        (or AGENTBUS_RABBITMQ_HOST and AGENTBUS_RABBITMQ_PORT) and AGENTBUS_RABBITMQ_VHOST. `options`:
        endpoints (the nodes of a cluster, "host:port,host:port" or a list of "host:port", instead of
        host and port), heartbeat, connect_timeout, publish_timeout and reconnect_timeout (how long to
        keep trying the nodes after the connection is lost, default 30) in seconds. `on_unmatched(type, body, why)` sees every reply no action of this
        client took (called on the I/O thread; keep it short). Raises AuthenticationError,
        AccessDeniedError, BrokerUnreachableError or ConfigurationError.
        """
        core = Core(wire.Settings.from_env(agent_id, password, host, port, vhost, **options), on_unmatched)
        core.transport.start()
        return cls(core)

    @property
    def agent_id(self) -> str:
        return self._core.settings.agent_id

    @property
    def is_open(self) -> bool:
        return self._core.transport.is_open

    def propose(self, tool: str, arguments: Mapping[str, Any], run_id: str, idempotency_key: str | None = None,
                intent: str | None = None, action_id: str | None = None, *, operation: str | None = None) -> str:
        """Publishes one proposal and returns its action id once the broker has confirmed it.

        `tool` is a catalog operation as "tool.operation" ("payments.refund"), or the tool alone when
        `operation` is given or the tool is generic. Re-proposing with the same `action_id` and the same
        body is the safe retry when a confirm was lost; the tool never runs twice for one action id.
        A connection lost before the confirm is not an error: the proposal is published again, with the same
        message id, once the client has reconnected, and this waits for that (up to reconnect_timeout more).
        Raises InvalidProposalError, PublishError, AgentBusTimeoutError (no confirm) or ConnectionLostError.
        """
        action_id, published = self._core.propose(tool, arguments, run_id, idempotency_key, intent, action_id, operation)
        self._core.await_confirm(published, f"proposal {action_id}")
        return action_id

    def decision(self, action_id: str, timeout: float = 30.0) -> ActionDecided:
        """The first decision on an action, without waiting for it to finish: approval_required shows here
        with its approval id, and wait() still returns the final decision and outcome later."""
        tracker = self._core.router.tracker(action_id)
        try:
            return first_answer(tracker).result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise AgentBusTimeoutError(f"no decision on action {action_id} within {timeout:g} s", action_id) from None

    def wait(self, action_id: str, timeout: float = 60.0) -> ActionResult:
        """Waits until the action is finished: denied, or allowed (at once or after approval) and then
        succeeded or failed. Raises AgentBusTimeoutError, saying what is known, when it is not in time."""
        tracker = self._core.router.tracker(action_id)
        try:
            result = tracker.finished.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise AgentBusTimeoutError(
                f"action {action_id} did not finish within {timeout:g} s: {describe_wait(tracker)}", action_id) from None
        self._core.router.forget(action_id, tracker)
        return result

    def run(self, tool: str, arguments: Mapping[str, Any], run_id: str, timeout: float = 60.0,
            idempotency_key: str | None = None, intent: str | None = None, *, operation: str | None = None,
            action_id: str | None = None) -> ActionResult:
        """propose() then wait(): the final decision and, when the action ran, its outcome."""
        action_id = self.propose(tool, arguments, run_id, idempotency_key, intent, action_id, operation=operation)
        return self.wait(action_id, timeout)

    def report_spend(self, amount_usd: Decimal | float | int, category: str, run_id: str, description: str | None = None,
                     report_id: str | None = None) -> str:
        """Reports money spent outside AgentBus (model inference, mostly) so budgets count it. Returns the
        report id; sending the same id again never charges twice."""
        report_id, published = self._core.spend(amount_usd, category, run_id, description, report_id)
        self._core.await_confirm(published, f"spend report {report_id}")
        return report_id

    def complete_run(self, run_id: str, succeeded: bool, summary: str | None = None) -> None:
        """Says the run is over and whether it achieved its goal. Once per run; a repeat records nothing new."""
        self._core.await_confirm(self._core.run_completed(run_id, succeeded, summary), f"the report that run {run_id} completed")

    def operations(self, gateway_url: str | None = None, timeout: float = 10.0) -> list[Operation]:
        """The operations this agent is granted, from the MCP gateway (AGENTBUS_GATEWAY_URL, default
        http://127.0.0.1:5105). Raises GatewayAuthenticationError (401) or GatewayError."""
        s = self._core.settings
        return list(gateway.fetch_offer(s.agent_id, s.password, gateway_url, timeout).operations)

    def close(self) -> None:
        self._core.transport.close()
        self._core.router.fail_all(ConnectionLostError("the client was closed before the answer came"))

    def __enter__(self) -> AgentBusClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()
