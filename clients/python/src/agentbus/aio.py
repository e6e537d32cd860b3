"""The asyncio client: the same contract and I/O thread as AgentBusClient, awaited on the caller's loop.

The connection's I/O thread (see transport.py) settles concurrent futures; `_bridge` copies each into
a future of the running loop, so waiting never blocks the loop, and a timed-out or cancelled await
leaves the action's own state alone: await it again later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import Future
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar

from . import gateway, wire
from .client import Core, describe_wait, first_answer
from .errors import AgentBusTimeoutError, ConnectionLostError
from .models import ActionDecided, ActionResult, Operation
from .replies import UnmatchedHandler

T = TypeVar("T")


def _bridge(source: Future[T], loop: asyncio.AbstractEventLoop) -> asyncio.Future[T]:
    target: asyncio.Future[T] = loop.create_future()

    def settle() -> None:
        if target.done():
            return
        if source.cancelled():
            target.cancel()
        elif (error := source.exception()) is not None:
            target.set_exception(error)
        else:
            target.set_result(source.result())

    def on_done(_: Future[T]) -> None:
        try:
            loop.call_soon_threadsafe(settle)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting any more

    source.add_done_callback(on_done)
    return target


async def _await(source: Future[T], timeout: float) -> T:
    return await asyncio.wait_for(_bridge(source, asyncio.get_running_loop()), timeout)


async def _confirm(core: Core, published: Future[str], what: str) -> str:
    """As Core.await_confirm, on the loop."""
    reconnects = core.transport.reconnects
    try:
        return await _await(published, core.settings.publish_timeout)
    except asyncio.TimeoutError:
        if not core.disrupted_since(reconnects):
            raise core.publish_timeout(what) from None
    try:
        return await _await(published, core.confirm_grace())
    except asyncio.TimeoutError:
        raise core.publish_timeout(what) from None


class AsyncAgentBusClient:
    """`client = await AsyncAgentBusClient.connect()`, or `async with await AsyncAgentBusClient.connect() as client:`."""

    def __init__(self, core: Core) -> None:
        self._core = core

    @classmethod
    async def connect(cls, agent_id: str | None = None, password: str | None = None, host: str | None = None,
                      port: int | None = None, vhost: str | None = None, *, on_unmatched: UnmatchedHandler | None = None,
                      **options: Any) -> AsyncAgentBusClient:
        """As AgentBusClient.connect; the connection attempt runs off the loop."""
        core = Core(wire.Settings.from_env(agent_id, password, host, port, vhost, **options), on_unmatched)
        await asyncio.to_thread(core.transport.start)
        return cls(core)

    @property
    def agent_id(self) -> str:
        return self._core.settings.agent_id

    @property
    def is_open(self) -> bool:
        return self._core.transport.is_open

    async def propose(self, tool: str, arguments: Mapping[str, Any], run_id: str, idempotency_key: str | None = None,
                      intent: str | None = None, action_id: str | None = None, *, operation: str | None = None) -> str:
        """As AgentBusClient.propose: returns the action id once the broker confirmed the proposal."""
        action_id, published = self._core.propose(tool, arguments, run_id, idempotency_key, intent, action_id, operation)
        await _confirm(self._core, published, f"proposal {action_id}")
        return action_id

    async def decision(self, action_id: str, timeout: float = 30.0) -> ActionDecided:
        """The first decision (approval_required included, with its approval id)."""
        try:
            return await _await(first_answer(self._core.router.tracker(action_id)), timeout)
        except asyncio.TimeoutError:
            raise AgentBusTimeoutError(f"no decision on action {action_id} within {timeout:g} s", action_id) from None

    async def wait(self, action_id: str, timeout: float = 60.0) -> ActionResult:
        """The final decision and, when the action ran, its outcome."""
        tracker = self._core.router.tracker(action_id)
        try:
            result = await _await(tracker.finished, timeout)
        except asyncio.TimeoutError:
            raise AgentBusTimeoutError(
                f"action {action_id} did not finish within {timeout:g} s: {describe_wait(tracker)}", action_id) from None
        self._core.router.forget(action_id, tracker)
        return result

    async def run(self, tool: str, arguments: Mapping[str, Any], run_id: str, timeout: float = 60.0,
                  idempotency_key: str | None = None, intent: str | None = None, *, operation: str | None = None,
                  action_id: str | None = None) -> ActionResult:
        action_id = await self.propose(tool, arguments, run_id, idempotency_key, intent, action_id, operation=operation)
        return await self.wait(action_id, timeout)

    async def report_spend(self, amount_usd: Decimal | float | int, category: str, run_id: str,
                           description: str | None = None, report_id: str | None = None) -> str:
        report_id, published = self._core.spend(amount_usd, category, run_id, description, report_id)
        await _confirm(self._core, published, f"spend report {report_id}")
        return report_id

    async def complete_run(self, run_id: str, succeeded: bool, summary: str | None = None) -> None:
        await _confirm(self._core, self._core.run_completed(run_id, succeeded, summary), f"the report that run {run_id} completed")

    async def operations(self, gateway_url: str | None = None, timeout: float = 10.0) -> list[Operation]:
        s = self._core.settings
        offer = await asyncio.to_thread(gateway.fetch_offer, s.agent_id, s.password, gateway_url, timeout)
        return list(offer.operations)

    async def close(self) -> None:
        await asyncio.to_thread(self._core.transport.close)
        self._core.router.fail_all(ConnectionLostError("the client was closed before the answer came"))

    async def __aenter__(self) -> AsyncAgentBusClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        await self.close()
