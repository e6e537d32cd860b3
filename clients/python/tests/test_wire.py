import hashlib
import json
import time
import uuid
from decimal import Decimal

import pytest

from agentbus import ConfigurationError, InvalidProposalError, Settings, uuid7
from agentbus import wire


def test_uuid7_is_version_7_with_the_rfc_variant_and_the_current_millisecond():
    before = int(time.time() * 1000)
    value = uuid.UUID(uuid7())
    after = int(time.time() * 1000)
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert before <= value.int >> 80 <= after


def test_uuid7s_sort_by_time_and_never_repeat():
    first = uuid7()
    time.sleep(0.002)
    later = [uuid7() for _ in range(1000)]
    assert all(first < value for value in later)
    assert len(set(later)) == 1000


def test_message_ids_reproduce_the_dotnet_MessageIds_For_formula():
    digest = bytearray(hashlib.sha256(b"agentbus\nRunCompleted\nagent-a:run-1").digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x80
    digest[8] = (digest[8] & 0x3F) | 0x80
    expected = str(uuid.UUID(bytes=bytes(digest)))
    assert wire.run_completed_message_id("agent-a", "run-1") == expected
    assert uuid.UUID(expected).version == 8


@pytest.mark.parametrize("name, expected", [
    ("payments.refund", ("payments", "refund")),
    ("a.b.refund", ("a.b", "refund")),
    ("ticketing", ("ticketing", None)),
    (".refund", (".refund", None)),
    ("payments.", ("payments.", None)),
])
def test_an_operation_is_split_at_its_last_dot(name, expected):
    assert wire.split_operation(name, None) == expected


def test_an_explicit_operation_leaves_the_tool_alone():
    assert wire.split_operation("a.b", "refund") == ("a.b", "refund")


def body(**overrides):
    values = dict(agent_id="python-agent", tool="ticketing", operation="create_ticket", arguments={"title": "t"},
                  run_id="run-1", action_id="0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f")
    values.update(overrides)
    return values


def test_a_proposal_body_has_the_contracts_camel_case_fields_and_only_those_given():
    document = json.loads(wire.proposal_body(**body()))
    assert document == {"actionId": "0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f", "runId": "run-1", "agentId": "python-agent",
                        "tool": "ticketing", "operation": "create_ticket", "arguments": {"title": "t"}}
    full = json.loads(wire.proposal_body(**body(operation=None, idempotency_key="k-1", intent="why")))
    assert "operation" not in full
    assert (full["idempotencyKey"], full["intent"]) == ("k-1", "why")


@pytest.mark.parametrize("overrides, says", [
    (dict(tool="Payments"), "tool"),
    (dict(tool=""), "tool"),
    (dict(operation="Refund!"), "operation"),
    (dict(run_id=""), "run_id"),
    (dict(run_id="-run"), "run_id"),
    (dict(run_id="r" * 129), "run_id"),
    (dict(action_id="not-a-uuid"), "action_id"),
    (dict(arguments=["a"]), "arguments"),
    (dict(arguments=None), "arguments"),
    (dict(arguments={"x": float("nan")}), "JSON"),
    (dict(arguments={"x": object()}), "JSON"),
    (dict(idempotency_key="a\nb"), "idempotency_key"),
    (dict(idempotency_key="k" * 201), "idempotency_key"),
    (dict(intent="a\x00b"), "intent"),
    (dict(intent="i" * 2001), "intent"),
])
def test_a_proposal_that_breaks_the_contract_is_refused_before_it_is_sent(overrides, says):
    with pytest.raises(InvalidProposalError, match=says):
        wire.proposal_body(**body(**overrides))


def test_spend_and_run_reports_carry_their_schemas_fields():
    spend = json.loads(wire.spend_body("python-agent", "rep-1", "run-1", Decimal("0.0123"), "inference", None))
    assert spend == {"reportId": "rep-1", "agentId": "python-agent", "runId": "run-1", "amountUsd": 0.0123,
                     "category": "inference", "description": None}
    run = json.loads(wire.run_completed_body("python-agent", "run-1", True, "done"))
    assert run == {"runId": "run-1", "agentId": "python-agent", "succeeded": True, "summary": "done"}
    with pytest.raises(InvalidProposalError, match="amount_usd"):
        wire.spend_body("python-agent", "rep-1", "run-1", -1, "inference", None)
    with pytest.raises(InvalidProposalError, match="category"):
        wire.spend_body("python-agent", "rep-1", "run-1", 1, "", None)


def test_settings_come_from_the_environment_when_not_given():
    env = {"AGENTBUS_AGENT_ID": "python-agent", "AGENTBUS_AGENT_PASSWORD": "pw", "AGENTBUS_RABBITMQ_HOST": "rabbit",
           "AGENTBUS_RABBITMQ_PORT": "5673", "AGENTBUS_RABBITMQ_VHOST": "test-vhost"}
    s = Settings.from_env(env=env)
    assert (s.agent_id, s.password, s.host, s.port, s.vhost) == ("python-agent", "pw", "rabbit", 5673, "test-vhost")
    given = Settings.from_env("other-agent", "pw2", "h", 1, "v", env=env)
    assert (given.agent_id, given.password, given.host, given.port, given.vhost) == ("other-agent", "pw2", "h", 1, "v")
    defaults = Settings.from_env("a", "p", env={})
    assert (defaults.host, defaults.port, defaults.vhost) == ("127.0.0.1", 5672, "agentbus")
    assert "pw" not in repr(s)


@pytest.mark.parametrize("kwargs, env, says", [
    ({}, {}, "AGENTBUS_AGENT_ID"),
    ({"agent_id": "a"}, {}, "AGENTBUS_AGENT_PASSWORD"),
    ({"agent_id": "Bad Agent", "password": "p"}, {}, "not an agent id"),
    ({"agent_id": "agentbus-policy", "password": "p"}, {}, "not an agent id"),
    ({"agent_id": "a", "password": "p"}, {"AGENTBUS_RABBITMQ_PORT": "amqp"}, "AGENTBUS_RABBITMQ_PORT"),
    ({"agent_id": "a", "password": "p", "port": 70000}, {}, "TCP port"),
    ({"agent_id": "a", "password": "p", "connect_timeout": 0}, {}, "connect_timeout"),
])
def test_bad_settings_name_what_is_wrong(kwargs, env, says):
    with pytest.raises(ConfigurationError, match=says):
        Settings.from_env(env=env, **kwargs)
