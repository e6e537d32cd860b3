"""Reply handling with no I/O: which reply belongs to which action, and who may speak for it.

Mirrors src/AgentBus.Client/AgentClient.cs (Dispatch, Reporter, ActionTracker). Every method is
called from the client's I/O thread, except `track`, `tracker` and `forget`, which callers use; a
lock guards the map. Results are handed over in concurrent.futures.Future objects, which both the
sync client (Future.result) and the asyncio client (bridged to its loop) can wait on.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import Any

from . import wire
from .models import ActionDecided, ActionFailed, ActionResult, ActionSucceeded, Decision

log = logging.getLogger("agentbus")

UnmatchedHandler = Callable[[str, Any, str], None]
"""Called with (AMQP type, decoded body or raw bytes, why it was not taken) for every reply no action took."""


class ActionTracker:
    """What is known of one action. Finished once denied, or once its outcome has arrived."""

    def __init__(self, action_id: str, tool: str | None) -> None:
        self.action_id = action_id
        self.tool = tool
        self.first_decision: Future[ActionDecided] = Future()
        self.finished: Future[ActionResult] = Future()
        self._decision: ActionDecided | None = None

    def decided(self, decision: ActionDecided) -> None:
        if self.tool is None:
            self.tool = decision.tool
        _settle(self.first_decision, decision)
        # approval_required is not final, and a late copy of it must not hide the final decision.
        if self._decision is not None and self._decision.decision is not Decision.APPROVAL_REQUIRED \
                and decision.decision is Decision.APPROVAL_REQUIRED:
            return
        self._decision = decision
        if decision.decision is Decision.DENIED:
            _settle(self.finished, ActionResult(self.action_id, decision))

    def succeeded(self, outcome: ActionSucceeded) -> None:
        decision, inferred = self._decision_or_inferred(outcome.run_id, outcome.tool)
        _settle(self.finished, ActionResult(self.action_id, decision, succeeded=outcome, decision_inferred=inferred))

    def failed(self, outcome: ActionFailed) -> None:
        decision, inferred = self._decision_or_inferred(outcome.run_id, outcome.tool)
        _settle(self.finished, ActionResult(self.action_id, decision, failed=outcome, decision_inferred=inferred))

    def _decision_or_inferred(self, run_id: str, tool: str) -> tuple[ActionDecided, bool]:
        # The outcome can overtake the decision (they travel through different exchanges); an outcome
        # implies the action was allowed.
        if self._decision is not None and self._decision.decision is not Decision.APPROVAL_REQUIRED:
            return self._decision, False
        return ActionDecided(self.action_id, run_id, "", tool, Decision.ALLOWED, "allowed", "Inferred from the outcome."), True


def _settle(future: Future[Any], value: Any) -> None:
    try:
        future.set_result(value)
    except InvalidStateError:
        pass  # the first answer stands (or the connection was lost meanwhile)


class ReplyRouter:
    KEEP_FINISHED = 1024

    def __init__(self, on_unmatched: UnmatchedHandler | None = None) -> None:
        self._lock = threading.Lock()
        self._finished: deque[tuple[str, ActionTracker]] = deque()
        self._actions: dict[str, ActionTracker] = {}
        self._action_by_message: dict[str, str] = {}
        self._on_unmatched = on_unmatched

    def track(self, action_id: str, tool: str, message_id: str) -> ActionTracker:
        """Before a proposal is published. A finished action proposed again waits for its new answer;
        an unfinished one (a retry of the same proposal) keeps waiting for the answer it already awaits."""
        with self._lock:
            tracker = self._actions.get(action_id)
            if tracker is None or tracker.finished.done():
                tracker = self._actions[action_id] = ActionTracker(action_id, tool)
            self._action_by_message[message_id] = action_id
            return tracker

    def tracker(self, action_id: str) -> ActionTracker:
        """The action's tracker, made if this client did not propose it (its tool is then learnt from the decision)."""
        with self._lock:
            tracker = self._actions.get(action_id)
            if tracker is None:
                tracker = self._actions[action_id] = ActionTracker(action_id, None)
            return tracker

    def forget(self, action_id: str, tracker: ActionTracker) -> None:
        """A waited-for action stays answerable (decision(), wait() again) until KEEP_FINISHED later ones
        have finished, so a long-running agent's map does not grow without end."""
        with self._lock:
            self._finished.append((action_id, tracker))
            while len(self._finished) > self.KEEP_FINISHED:
                old_id, old = self._finished.popleft()
                if self._actions.get(old_id) is old:
                    del self._actions[old_id]
                    for message_id in [m for m, a in self._action_by_message.items() if a == old_id]:
                        del self._action_by_message[message_id]

    def fail_all(self, error: BaseException) -> None:
        with self._lock:
            trackers = list(self._actions.values())
        for tracker in trackers:
            futures: tuple[Future[Any], ...] = (tracker.first_decision, tracker.finished)
            for future in futures:
                try:
                    future.set_exception(error)
                except InvalidStateError:
                    pass  # answered already

    def dispatch(self, kind: str | None, correlation_id: str | None, sender: str | None, body: bytes) -> str:
        """Handles one reply and says what became of it (for logs and tests). Never raises on a bad reply:
        whatever it is, the caller acknowledges it, as redelivery would never make it readable."""
        try:
            document = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return self._unmatched(kind, body, "unreadable: not UTF-8 JSON")
        if not isinstance(document, dict):
            return self._unmatched(kind, document, "not a JSON object")
        try:
            if kind == "ActionDecided":
                return self._decision(ActionDecided.from_json(document), document, correlation_id, sender)
            if kind == "ActionSucceeded":
                succeeded = ActionSucceeded.from_json(document)
                reporter, why = self._reporter(succeeded.action_id, succeeded.tool, sender)
                if reporter is None:
                    return self._unmatched(kind, document, why)
                reporter.succeeded(succeeded)
                return "succeeded"
            if kind == "ActionFailed":
                failed = ActionFailed.from_json(document)
                if failed.ends_no_action:
                    return self._unmatched(kind, document, f"a refusal ({failed.error_code}) of a command policy never signed ends nothing")
                reporter, why = self._reporter(failed.action_id, failed.tool, sender)
                if reporter is None:
                    return self._unmatched(kind, document, why)
                reporter.failed(failed)
                return "failed"
        except ValueError as error:
            return self._unmatched(kind, document, f"malformed {kind}: {error}")
        return self._unmatched(kind, document, f"unknown reply type {kind!r}")

    def _decision(self, decided: ActionDecided, document: dict[str, Any], correlation_id: str | None, sender: str | None) -> str:
        if sender != wire.POLICY_USER:
            return self._unmatched("ActionDecided", document, f"a decision from {sender!r}, not the policy service")
        action_id = decided.action_id
        if action_id is None and correlation_id is not None:
            with self._lock:
                action_id = self._action_by_message.get(correlation_id)
        tracker = self._known(action_id)
        if tracker is None:
            return self._unmatched("ActionDecided", document, f"no action {action_id} waits here")
        tracker.decided(decided)
        return "decision"

    def _reporter(self, action_id: str, tool: str, sender: str | None) -> tuple[ActionTracker | None, str]:
        """The action an outcome is for, if its sender may speak for it: every executor may publish outcomes,
        so without this one tool's executor could end another tool's actions here (and a refund that ran be retried)."""
        tracker = self._known(action_id)
        if tracker is None:
            return None, f"no action {action_id} waits here"
        if not wire.may_report_outcome(tool, sender):
            return None, f"{sender!r} may not report outcomes of tool {tool!r}"
        if tracker.tool is not None and tracker.tool != tool:
            return None, f"an outcome about tool {tool!r}, but action {action_id} proposed {tracker.tool!r}"
        return tracker, ""

    def _known(self, action_id: str | None) -> ActionTracker | None:
        if action_id is None:
            return None
        with self._lock:
            return self._actions.get(action_id)

    def _unmatched(self, kind: str | None, document: Any, why: str) -> str:
        log.debug("ignoring a %s reply: %s", kind or "(untyped)", why)
        if self._on_unmatched is not None:
            try:
                self._on_unmatched(kind or "", document, why)
            except Exception:  # a user's handler must not stop the consumer
                log.exception("the unmatched-reply handler raised")
        return "ignored: " + why
