"""Reply dispatch without a broker: which replies an action takes, and from whom (AgentClient.Dispatch)."""

import json

import pytest

from agentbus import ConnectionLostError, Decision
from agentbus.replies import ReplyRouter

ACTION = "0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f"
POLICY = "agentbus-policy"
TICKETING = "agentbus-executor-ticketing"
PAYMENTS = "agentbus-executor-payments"


def decided(decision="allowed", reason_code=None, action_id=ACTION, **extra):
    return json.dumps({"actionId": action_id, "runId": "run-1", "agentId": "python-agent", "tool": "ticketing",
                       "decision": decision, "reasonCode": reason_code or decision, "reason": "r", "ruleId": "g",
                       "policyVersion": "v", "decidedAt": "2026-11-24T13:30:00+00:00", **extra}).encode()


def succeeded(tool="ticketing", action_id=ACTION):
    return json.dumps({"actionId": action_id, "runId": "run-1", "agentId": "python-agent", "tool": tool,
                       "result": {"status": 201}, "externalReference": "TCK-1", "costUsd": 0.002, "durationMs": 3,
                       "attempts": 1, "completedAt": "2026-11-24T13:30:00+00:00"}).encode()


def failed(code="http_500", refused=False, tool="ticketing"):
    return json.dumps({"actionId": ACTION, "runId": "run-1", "agentId": "python-agent", "tool": tool, "errorCode": code,
                       "error": "e", "outcomeUnknown": False, "durationMs": 1, "attempts": 1,
                       "failedAt": "2026-11-24T13:30:00+00:00", "refused": refused}).encode()


@pytest.fixture
def unmatched():
    return []


@pytest.fixture
def router(unmatched):
    return ReplyRouter(lambda kind, body, why: unmatched.append((kind, why)))


def test_an_allowed_decision_then_the_outcome_finish_the_action(router):
    tracker = router.track(ACTION, "ticketing", "m-1")
    assert router.dispatch("ActionDecided", "m-1", POLICY, decided()) == "decision"
    assert tracker.first_decision.result(0).decision is Decision.ALLOWED
    assert not tracker.finished.done()
    assert router.dispatch("ActionSucceeded", None, TICKETING, succeeded()) == "succeeded"
    result = tracker.finished.result(0)
    assert (result.status, result.decision_inferred, result.succeeded.external_reference) == ("succeeded", False, "TCK-1")


def test_a_denial_is_final_and_nothing_follows(router):
    tracker = router.track(ACTION, "payments", "m-1")
    router.dispatch("ActionDecided", "m-1", POLICY, decided("denied", "no_grant"))
    result = tracker.finished.result(0)
    assert (result.status, result.decision.reason_code, result.completed) == ("denied", "no_grant", True)


def test_an_outcome_that_overtakes_its_decision_implies_allowed(router):
    tracker = router.track(ACTION, "ticketing", "m-1")
    router.dispatch("ActionSucceeded", None, TICKETING, succeeded())
    result = tracker.finished.result(0)
    assert result.decision.decision is Decision.ALLOWED and result.decision_inferred
    # the decision that comes later is still the first decision a caller of decision() sees
    router.dispatch("ActionDecided", "m-1", POLICY, decided())
    assert tracker.first_decision.result(0).reason_code == "allowed"


def test_approval_required_is_not_final_and_the_final_decision_follows(router):
    tracker = router.track(ACTION, "ticketing", "m-1")
    router.dispatch("ActionDecided", "m-1", POLICY, decided("approval_required", approvalId="ap-1"))
    assert tracker.first_decision.result(0).approval_id == "ap-1"
    assert not tracker.finished.done()
    router.dispatch("ActionDecided", "m-1", POLICY, decided("denied", "approval_denied", approvalId="ap-1"))
    assert tracker.finished.result(0).decision.reason_code == "approval_denied"
    assert tracker.first_decision.result(0).decision is Decision.APPROVAL_REQUIRED


def test_a_late_copy_of_approval_required_does_not_hide_the_final_allowed_decision(router):
    tracker = router.track(ACTION, "ticketing", "m-1")
    router.dispatch("ActionDecided", "m-1", POLICY, decided("approval_required", approvalId="ap-1"))
    router.dispatch("ActionDecided", "m-1", POLICY, decided("allowed", "approval_granted", approvalId="ap-1"))
    router.dispatch("ActionDecided", "m-1", POLICY, decided("approval_required", approvalId="ap-1"))
    router.dispatch("ActionSucceeded", None, TICKETING, succeeded())
    assert tracker.finished.result(0).decision.reason_code == "approval_granted"


def test_an_outcome_while_approval_is_pending_in_this_client_still_implies_allowed(router):
    tracker = router.track(ACTION, "ticketing", "m-1")
    router.dispatch("ActionDecided", "m-1", POLICY, decided("approval_required", approvalId="ap-1"))
    router.dispatch("ActionSucceeded", None, TICKETING, succeeded())
    result = tracker.finished.result(0)
    assert result.decision.decision is Decision.ALLOWED and result.decision_inferred


@pytest.mark.parametrize("sender", [TICKETING, "python-agent", "agentbus-approvals", None])
def test_a_decision_from_anyone_but_the_policy_service_is_ignored(router, unmatched, sender):
    tracker = router.track(ACTION, "ticketing", "m-1")
    assert router.dispatch("ActionDecided", "m-1", sender, decided("denied", "no_grant")).startswith("ignored")
    assert not tracker.first_decision.done() and not tracker.finished.done()
    assert "not the policy service" in unmatched[0][1]


@pytest.mark.parametrize("sender", [PAYMENTS, "python-agent", "agentbus-approvals", None])
def test_an_outcome_from_another_tools_executor_is_ignored(router, sender):
    tracker = router.track(ACTION, "ticketing", "m-1")
    assert router.dispatch("ActionFailed", None, sender, failed()).startswith("ignored")
    assert router.dispatch("ActionSucceeded", None, sender, succeeded()).startswith("ignored")
    assert not tracker.finished.done()


def test_an_outcome_naming_another_tool_is_ignored_even_from_that_tools_executor(router, unmatched):
    tracker = router.track(ACTION, "ticketing", "m-1")
    assert router.dispatch("ActionFailed", None, PAYMENTS, failed(tool="payments")).startswith("ignored")
    assert not tracker.finished.done()
    assert "proposed 'ticketing'" in unmatched[0][1]


def test_the_policy_service_may_copy_an_outcome_to_a_duplicate(router):
    tracker = router.track(ACTION, "ticketing", "m-1")
    router.dispatch("ActionDecided", "m-1", POLICY, decided("denied", "duplicate_action"))
    assert tracker.finished.result(0).decision.reason_code == "duplicate_action"
    other = router.track("0193e3c2-6f1a-7c3b-9d4e-000000000002", "ticketing", "m-2")
    router.dispatch("ActionSucceeded", None, POLICY, succeeded(action_id="0193e3c2-6f1a-7c3b-9d4e-000000000002"))
    assert other.finished.result(0).succeeded is not None


@pytest.mark.parametrize("code", ["authorization_missing", "authorization_unknown_key", "authorization_invalid",
                                  "wrong_tool", "arguments_changed"])
def test_a_refusal_of_an_unsigned_command_ends_nothing_and_the_real_outcome_still_counts(router, code):
    tracker = router.track(ACTION, "ticketing", "m-1")
    assert router.dispatch("ActionFailed", None, TICKETING, failed(code, refused=True)).startswith("ignored")
    assert not tracker.finished.done()
    router.dispatch("ActionSucceeded", None, TICKETING, succeeded())
    assert tracker.finished.result(0).status == "succeeded"


def test_a_refusal_of_a_signed_command_is_final(router):
    tracker = router.track(ACTION, "ticketing", "m-1")
    router.dispatch("ActionFailed", None, TICKETING, failed("agent_suspended", refused=True))
    result = tracker.finished.result(0)
    assert (result.status, result.failed.error_code, result.failed.refused) == ("failed", "agent_suspended", True)


def test_a_decision_without_an_action_id_is_matched_by_correlation_id(router):
    tracker = router.track(ACTION, "ticketing", "m-1")
    router.dispatch("ActionDecided", "m-1", POLICY, decided("denied", "invalid_json", action_id=None))
    assert tracker.finished.result(0).decision.reason_code == "invalid_json"


@pytest.mark.parametrize("kind, body, why", [
    ("ActionDecided", b"\xff\xfe", "unreadable"),
    ("ActionDecided", b"{not json", "unreadable"),
    ("ActionDecided", b"[1, 2]", "not a JSON object"),
    ("ActionDecided", json.dumps({"actionId": ACTION, "decision": "allowed"}).encode(), "malformed ActionDecided"),
    ("ActionSucceeded", json.dumps({"actionId": ACTION}).encode(), "malformed ActionSucceeded"),
    ("ActionFailed", json.dumps({"actionId": ACTION, "tool": "ticketing", "errorCode": 5}).encode(), "malformed ActionFailed"),
    ("ExecutionStarted", json.dumps({"actionId": ACTION}).encode(), "unknown reply type"),
    (None, json.dumps({"actionId": ACTION}).encode(), "unknown reply type"),
])
def test_unreadable_or_unknown_replies_are_ignored_never_raised(router, unmatched, kind, body, why):
    tracker = router.track(ACTION, "ticketing", "m-1")
    assert router.dispatch(kind, "m-1", POLICY, body).startswith("ignored")
    assert why in unmatched[0][1]
    assert not tracker.first_decision.done()


def test_replies_for_actions_this_client_does_not_know_are_ignored(router, unmatched):
    assert router.dispatch("ActionDecided", "m-x", POLICY, decided()).startswith("ignored")
    assert router.dispatch("ActionSucceeded", None, TICKETING, succeeded()).startswith("ignored")
    assert len(unmatched) == 2


def test_a_handler_that_raises_does_not_break_dispatch():
    def explode(kind, body, why):
        raise RuntimeError("boom")

    assert ReplyRouter(explode).dispatch("Nope", None, POLICY, b"{}").startswith("ignored")


def test_an_action_waited_for_but_not_proposed_here_learns_its_tool_from_the_decision(router):
    tracker = router.tracker(ACTION)
    router.dispatch("ActionDecided", None, POLICY, decided())
    assert tracker.tool == "ticketing"
    assert router.dispatch("ActionSucceeded", None, PAYMENTS, succeeded(tool="payments")).startswith("ignored")


def test_proposing_a_finished_action_again_waits_for_the_new_answer(router):
    first = router.track(ACTION, "ticketing", "m-1")
    router.dispatch("ActionDecided", "m-1", POLICY, decided())
    router.dispatch("ActionSucceeded", None, TICKETING, succeeded())
    again = router.track(ACTION, "ticketing", "m-2")
    assert again is not first and not again.finished.done()
    router.dispatch("ActionDecided", "m-2", POLICY, decided("denied", "action_id_reused"))
    assert again.finished.result(0).decision.reason_code == "action_id_reused"
    retry = router.track(ACTION, "ticketing", "m-3")
    assert retry is not again


def test_retrying_an_unfinished_proposal_keeps_waiting_on_the_same_action(router):
    first = router.track(ACTION, "ticketing", "m-1")
    assert router.track(ACTION, "ticketing", "m-2") is first


def test_a_lost_connection_fails_every_waiting_action(router):
    tracker = router.track(ACTION, "ticketing", "m-1")
    router.fail_all(ConnectionLostError("gone"))
    with pytest.raises(ConnectionLostError):
        tracker.finished.result(0)


def test_finished_actions_are_kept_for_a_while_then_forgotten(router):
    router.KEEP_FINISHED = 2
    trackers = []
    for n in range(3):
        action_id = f"0193e3c2-6f1a-7c3b-9d4e-00000000000{n}"
        tracker = router.track(action_id, "ticketing", f"m-{n}")
        router.dispatch("ActionDecided", f"m-{n}", POLICY, decided("denied", "no_grant", action_id=action_id))
        router.forget(action_id, tracker)
        trackers.append((action_id, tracker))
    assert router.tracker(trackers[2][0]) is trackers[2][1]
    assert router.tracker(trackers[1][0]) is trackers[1][1]
    assert router.tracker(trackers[0][0]) is not trackers[0][1]
