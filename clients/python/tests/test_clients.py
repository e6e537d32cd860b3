"""The sync and asyncio clients over a fake transport: publishing, waiting, timeouts (no broker)."""

import asyncio
import json
import threading
from concurrent.futures import Future

import pytest

from agentbus import (AgentBusClient, AgentBusTimeoutError, AsyncAgentBusClient, ConnectionLostError, Decision,
                      InvalidProposalError, PublishError, Settings)
from agentbus.client import Core

POLICY = "agentbus-policy"


class FakeTransport:
    """Confirms (or fails) every publish at once and remembers what was sent."""

    def __init__(self):
        self.sent = []
        self.fail_with = None
        self.confirm = True
        self.is_open = True
        self.closed = False
        self.reconnecting = False
        self.reconnects = 0

    def publish(self, exchange, body, kind, message_id=None, headers=None):
        self.sent.append({"exchange": exchange, "body": json.loads(body), "type": kind, "message_id": message_id, "headers": headers})
        future = Future()
        if self.fail_with is not None:
            future.set_exception(self.fail_with)
        elif self.confirm:
            future.set_result(message_id)
        return future

    def close(self):
        self.closed = True


def make(cls=AgentBusClient, **settings):
    core = Core(Settings.from_env("python-agent", "pw", env={}, **settings), None)
    core.transport = FakeTransport()
    return cls(core), core


def reply(core, kind, sender=POLICY, correlation_id=None, **body):
    return core.router.dispatch(kind, correlation_id, sender, json.dumps(body).encode())


def decision_body(action_id, decision="allowed", reason_code=None, **extra):
    return dict(actionId=action_id, runId="run-1", agentId="python-agent", tool="ticketing", decision=decision,
                reasonCode=reason_code or decision, reason="r", **extra)


def success_body(action_id):
    return dict(actionId=action_id, runId="run-1", agentId="python-agent", tool="ticketing", result={},
                externalReference="TCK-1", costUsd=0, durationMs=1, attempts=1)


def test_propose_publishes_the_contracts_proposal_and_returns_a_uuid7_action_id():
    client, core = make()
    action_id = client.propose("ticketing.create_ticket", {"title": "t", "priority": "low"}, "run-1", intent="why")
    sent = core.transport.sent[0]
    assert sent["exchange"] == "agentbus.proposals" and sent["type"] == "ActionProposed"
    assert sent["body"] == {"actionId": action_id, "runId": "run-1", "agentId": "python-agent", "tool": "ticketing",
                            "operation": "create_ticket", "arguments": {"title": "t", "priority": "low"}, "intent": "why"}
    assert action_id[14] == "7"
    assert sent["headers"]["MT-Activity-Id"].startswith("00-")
    assert client.propose("ticketing", {}, "run-1", operation="comment", action_id=action_id) == action_id
    assert core.transport.sent[1]["body"]["operation"] == "comment"
    assert core.transport.sent[1]["message_id"] != sent["message_id"]


def test_an_invalid_proposal_is_refused_before_anything_is_sent():
    client, core = make()
    with pytest.raises(InvalidProposalError, match="run_id"):
        client.propose("ticketing.create_ticket", {}, "")
    assert core.transport.sent == []


def test_a_publish_the_broker_refused_raises_publish_error():
    client, core = make()
    core.transport.fail_with = PublishError("the broker refused (nacked) the message")
    with pytest.raises(PublishError, match="nacked"):
        client.propose("ticketing.create_ticket", {}, "run-1")


def test_no_confirm_in_time_is_a_timeout_that_says_to_retry_with_the_same_id():
    client, core = make(publish_timeout=0.05)
    core.transport.confirm = False
    with pytest.raises(AgentBusTimeoutError, match="same id") as raised:
        client.propose("ticketing.create_ticket", {}, "run-1")
    assert isinstance(raised.value, TimeoutError)


def test_wait_returns_the_final_result_once_the_outcome_arrives_from_another_thread():
    client, core = make()
    action_id = client.propose("ticketing.create_ticket", {"title": "t"}, "run-1")
    threading.Timer(0.05, lambda: (reply(core, "ActionDecided", **decision_body(action_id)),
                                   reply(core, "ActionSucceeded", sender="agentbus-executor-ticketing", **success_body(action_id)))).start()
    assert client.decision(action_id, timeout=5).decision is Decision.ALLOWED
    result = client.wait(action_id, timeout=5)
    assert result.status == "succeeded" and result.succeeded.external_reference == "TCK-1"


def test_decision_shows_approval_required_and_wait_says_what_it_is_waiting_for():
    client, core = make()
    action_id = client.propose("ticketing.create_ticket", {"title": "t"}, "run-1")
    reply(core, "ActionDecided", **decision_body(action_id, "approval_required", approvalId="ap-9"))
    assert client.decision(action_id, timeout=1).approval_id == "ap-9"
    with pytest.raises(AgentBusTimeoutError, match="approval ap-9 is still waiting for people") as raised:
        client.wait(action_id, timeout=0.05)
    assert raised.value.action_id == action_id


def test_a_timeout_without_any_answer_says_so():
    client, _ = make()
    action_id = client.propose("ticketing.create_ticket", {"title": "t"}, "run-1")
    with pytest.raises(TimeoutError, match="no decision"):
        client.decision(action_id, timeout=0.01)
    with pytest.raises(AgentBusTimeoutError, match="did not finish within 0.01 s: no decision yet"):
        client.wait(action_id, timeout=0.01)


def test_run_is_propose_then_wait():
    client, core = make()
    threading.Timer(0.05, lambda: reply(core, "ActionDecided",
                                        **decision_body(core.transport.sent[0]["body"]["actionId"], "denied", "no_grant"))).start()
    result = client.run("payments.refund", {"orderId": "ORD-1"}, "run-1", timeout=5)
    assert (result.status, result.decision.reason_code) == ("denied", "no_grant")


def test_spend_and_run_reports_go_to_their_exchanges_as_the_agent():
    client, core = make()
    report_id = client.report_spend(0.25, "inference", "run-1", "gpt: 1000 tokens")
    client.complete_run("run-1", True, "done")
    spend, run = core.transport.sent
    assert (spend["exchange"], spend["type"], spend["body"]["reportId"]) == ("agentbus.spend-reports", "SpendReported", report_id)
    assert (run["exchange"], run["type"], run["body"]["succeeded"]) == ("agentbus.run-reports", "RunCompleted", True)
    client.complete_run("run-1", True, "done")
    assert core.transport.sent[2]["message_id"] == run["message_id"]  # one id per run


def test_closing_ends_every_wait_with_connection_lost():
    client, core = make()
    action_id = client.propose("ticketing.create_ticket", {"title": "t"}, "run-1")
    with client:
        pass
    assert core.transport.closed
    with pytest.raises(ConnectionLostError):
        client.wait(action_id, timeout=1)


def test_the_async_client_awaits_the_same_answers_without_blocking_its_loop():
    async def scenario():
        client, core = make(AsyncAgentBusClient)
        action_id = await client.propose("ticketing.create_ticket", {"title": "t"}, "run-1")
        loop_ran = asyncio.Event()
        threading.Timer(0.1, lambda: (reply(core, "ActionDecided", **decision_body(action_id)),
                                      reply(core, "ActionSucceeded", sender="agentbus-executor-ticketing", **success_body(action_id)))).start()

        async def ticker():
            loop_ran.set()

        waiting = asyncio.ensure_future(client.wait(action_id, timeout=5))
        await ticker()
        result = await waiting
        assert loop_ran.is_set()
        assert (await client.decision(action_id, timeout=1)).decision is Decision.ALLOWED
        assert result.status == "succeeded"
        await client.close()
        assert core.transport.closed

    asyncio.run(scenario())


def test_an_async_timeout_leaves_the_action_waitable():
    async def scenario():
        client, core = make(AsyncAgentBusClient)
        action_id = await client.propose("ticketing.create_ticket", {"title": "t"}, "run-1")
        with pytest.raises(AgentBusTimeoutError, match="no decision yet"):
            await client.wait(action_id, timeout=0.01)
        with pytest.raises(AgentBusTimeoutError):
            await client.decision(action_id, timeout=0.01)
        reply(core, "ActionDecided", **decision_body(action_id, "denied", "no_grant"))
        assert (await client.wait(action_id, timeout=1)).decision.reason_code == "no_grant"

    asyncio.run(scenario())


def test_async_publish_errors_and_timeouts_are_the_sync_ones():
    async def scenario():
        client, core = make(AsyncAgentBusClient, publish_timeout=0.05)
        core.transport.fail_with = PublishError("returned")
        with pytest.raises(PublishError):
            await client.propose("ticketing.create_ticket", {}, "run-1")
        core.transport.fail_with, core.transport.confirm = None, False
        with pytest.raises(AgentBusTimeoutError, match="did not confirm"):
            await client.report_spend(1, "inference", "run-1")

    asyncio.run(scenario())
