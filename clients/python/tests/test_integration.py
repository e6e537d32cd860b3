"""Against a real pipeline: the C# fixture (PythonPackageTests) sets the AGENTBUS_* variables for agent
python-agent, granted ticketing [create_ticket, comment] and nothing of payments."""

import asyncio
import os
import uuid

import pytest

from agentbus import (AgentBusClient, AsyncAgentBusClient, AuthenticationError, Decision, uuid7)

pytestmark = pytest.mark.integration

TIMEOUT = 30.0


def run_id() -> str:
    # A run of its own per test: the same run, tool and arguments within 10 minutes would be a duplicate_action.
    return "run-py-" + uuid.uuid4().hex[:12]


def ticket(title: str) -> dict:
    return {"title": f"{title} {uuid.uuid4().hex[:8]}", "priority": "high"}


@pytest.fixture
def client():
    with AgentBusClient.connect(connect_timeout=10) as connected:
        yield connected


def test_an_allowed_ticket_succeeds_with_the_records_external_reference(client):
    result = client.run("ticketing.create_ticket", ticket("Login fails"), run_id(), timeout=TIMEOUT, intent="python package test")

    assert result.decision.decision is Decision.ALLOWED, result
    # Allowed at once: the outcome is the only reply, and it implies the decision (which rule allowed
    # it is in the audit, not sent to the agent).
    assert result.decision_inferred and result.decision.reason_code == "allowed"
    assert result.status == "succeeded", result
    assert result.succeeded.tool == "ticketing"
    assert result.succeeded.external_reference.startswith("TCK-")
    assert client.decision(result.action_id, timeout=1).decision is Decision.ALLOWED


def test_decision_then_wait_see_the_same_action(client):
    action_id = client.propose("ticketing", ticket("Two steps"), run_id(), operation="create_ticket")
    first = client.decision(action_id, timeout=TIMEOUT)
    assert first.action_id == action_id and first.decision is Decision.ALLOWED
    assert client.wait(action_id, timeout=TIMEOUT).succeeded is not None


def test_a_refund_without_a_grant_is_denied_no_grant_and_nothing_runs(client):
    result = client.run("payments.refund", {"orderId": "ORD-1001", "amountUsd": 25, "reason": "damaged"}, run_id(), timeout=TIMEOUT)

    assert (result.status, result.decision.reason_code) == ("denied", "no_grant"), result
    assert result.succeeded is None and result.failed is None


def test_an_action_id_reused_for_other_arguments_is_denied_action_id_reused(client):
    run = run_id()
    action_id = uuid7()
    first = client.run("ticketing.create_ticket", ticket("First use"), run, timeout=TIMEOUT, action_id=action_id)
    assert first.status == "succeeded", first

    second = client.run("ticketing.create_ticket", ticket("Other arguments"), run, timeout=TIMEOUT, action_id=action_id)

    assert (second.status, second.decision.reason_code) == ("denied", "action_id_reused"), second


def test_a_wrong_password_is_an_authentication_error():
    with pytest.raises(AuthenticationError, match="refused the login of user 'python-agent'"):
        AgentBusClient.connect(password="not-the-password", connect_timeout=10)


def test_spend_and_run_reports_are_confirmed_by_the_broker(client):
    run = run_id()
    client.run("ticketing.create_ticket", ticket("Before the report"), run, timeout=TIMEOUT)
    report_id = client.report_spend(0.0042, "inference", run, "test: 1200 tokens")
    assert report_id
    client.complete_run(run, True, "ticket opened")


def test_the_async_client_runs_actions_concurrently():
    async def scenario():
        async with await AsyncAgentBusClient.connect(connect_timeout=10) as client:
            run = run_id()
            allowed, denied = await asyncio.gather(
                client.run("ticketing.create_ticket", ticket("Async"), run, timeout=TIMEOUT),
                client.run("payments.refund", {"orderId": "ORD-1002", "amountUsd": 5, "reason": "late"}, run, timeout=TIMEOUT),
            )
            assert allowed.status == "succeeded", allowed
            assert allowed.succeeded.external_reference.startswith("TCK-")
            assert (denied.status, denied.decision.reason_code) == ("denied", "no_grant"), denied

            action_id = await client.propose("ticketing.create_ticket", ticket("Async decision"), run)
            assert (await client.decision(action_id, timeout=TIMEOUT)).decision is Decision.ALLOWED
            assert (await client.wait(action_id, timeout=TIMEOUT)).status == "succeeded"

    asyncio.run(scenario())


def test_the_async_client_reports_a_wrong_password_as_an_authentication_error():
    with pytest.raises(AuthenticationError):
        asyncio.run(AsyncAgentBusClient.connect(password="not-the-password", connect_timeout=10))


@pytest.mark.skipif(not os.environ.get("AGENTBUS_GATEWAY_URL"),
                    reason="AGENTBUS_GATEWAY_URL is not set: no MCP gateway to list operations from")
def test_operations_are_exactly_the_ones_granted(client):
    operations = client.operations()

    assert {o.name for o in operations} == {"ticketing_create_ticket", "ticketing_comment"}
    create = next(o for o in operations if o.name == "ticketing_create_ticket")
    assert (create.tool, create.operation) == ("ticketing", "create_ticket")
    assert "title" in create.input_schema.get("properties", {})
