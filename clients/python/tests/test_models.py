from datetime import datetime, timezone
from decimal import Decimal

import pytest

from agentbus import ActionDecided, ActionFailed, ActionSucceeded, Decision, Operation, OperationsOffer

DECIDED = {
    "actionId": "0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f", "runId": "run-1", "agentId": "support-bot", "tool": "ticketing",
    "decision": "approval_required", "reasonCode": "approval_required", "reason": "Needs 1 of 'payments-approvers'.",
    "ruleId": "large-refund", "policyVersion": "sha256:3f2a", "decidedAt": "2026-11-24T13:30:00.1234567+00:00",
    "approvalId": "59e6b7fd-6b2b-8756-b0ce-55df5851bef1", "aFieldAddedLater": 1,
}


def test_a_decision_reads_every_field_and_ignores_fields_added_later():
    decided = ActionDecided.from_json(DECIDED)
    assert decided.decision is Decision.APPROVAL_REQUIRED
    assert not decided.is_final
    assert (decided.reason_code, decided.rule_id, decided.approval_id) == ("approval_required", "large-refund", DECIDED["approvalId"])
    assert decided.decided_at == datetime(2026, 11, 24, 13, 30, 0, 123456, tzinfo=timezone.utc)


def test_a_decision_on_an_unreadable_proposal_has_null_identifiers():
    decided = ActionDecided.from_json({**DECIDED, "actionId": None, "runId": None, "tool": None, "decision": "denied",
                                       "reasonCode": "invalid_json", "ruleId": "envelope", "approvalId": None})
    assert decided.action_id is None and decided.is_final


@pytest.mark.parametrize("change", [{"decision": "maybe"}, {"decision": None}, {"reasonCode": None}, {"actionId": 7},
                                    {"decidedAt": "yesterday"}])
def test_a_malformed_decision_is_a_value_error(change):
    with pytest.raises(ValueError):
        ActionDecided.from_json({**DECIDED, **change})


def test_an_outcome_keeps_money_exact_and_the_result_as_sent():
    succeeded = ActionSucceeded.from_json({
        "actionId": "a", "runId": "r", "agentId": "support-bot", "tool": "ticketing",
        "result": {"status": 201, "body": {"id": "TCK-000042"}}, "externalReference": "TCK-000042",
        "costUsd": 0.002, "durationMs": 14, "attempts": 1, "completedAt": "2026-11-24T13:30:00.141+00:00"})
    assert succeeded.cost_usd == Decimal("0.002")
    assert succeeded.external_reference == "TCK-000042"
    assert succeeded.result["body"]["id"] == "TCK-000042"


@pytest.mark.parametrize("code, refused, ends_nothing", [
    ("authorization_invalid", True, True),
    ("wrong_tool", True, True),
    ("arguments_changed", True, True),
    ("agent_suspended", True, False),
    ("authorization_expired", True, False),
    ("wrong_tool", False, False),
    ("http_503", False, False),
])
def test_only_refusals_of_unsigned_commands_end_nothing(code, refused, ends_nothing):
    failed = ActionFailed.from_json({"actionId": "a", "runId": "r", "agentId": "x", "tool": "t", "errorCode": code,
                                     "error": "e", "outcomeUnknown": False, "refused": refused})
    assert failed.ends_no_action is ends_nothing


OFFER = {
    "agentId": "support-bot", "policyVersion": "sha256:abc",
    "operations": [{
        "name": "payments_refund", "tool": "payments", "operation": "refund", "title": "payments.refund",
        "description": "Refund part of an order.", "inputSchema": {"type": "object", "required": ["orderId"]},
        "readOnly": False, "destructive": True, "idempotent": True, "risk": "high", "capabilities": ["money.move"],
        "approval": "1 of 'payments-approvers' when amountUsd > 250",
    }, {
        "name": "ticketing_comment", "tool": "ticketing", "operation": "comment", "title": "ticketing.comment",
        "description": "Comment.", "inputSchema": {"type": "object"}, "readOnly": False, "destructive": False,
        "idempotent": True, "risk": "low", "capabilities": [], "approval": None,
    }],
}


def test_an_operations_offer_reads_the_gateways_camel_case_body():
    offer = OperationsOffer.from_json(OFFER)
    refund, comment = offer.operations
    assert (offer.agent_id, offer.policy_version) == ("support-bot", "sha256:abc")
    assert refund == Operation("payments_refund", "payments", "refund", "payments.refund", "Refund part of an order.",
                               {"type": "object", "required": ["orderId"]}, False, True, True, "high", ("money.move",),
                               "1 of 'payments-approvers' when amountUsd > 250")
    assert refund.qualified_name == "payments.refund"
    assert comment.approval is None


@pytest.mark.parametrize("change", [{"operations": None}, {"operations": [1]}, {"agentId": None},
                                    {"operations": [{"name": "x"}]}])
def test_a_malformed_offer_is_a_value_error(change):
    with pytest.raises(ValueError):
        OperationsOffer.from_json({**OFFER, **change})
