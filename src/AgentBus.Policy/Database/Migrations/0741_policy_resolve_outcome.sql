-- Issue 17, "Resolve the unknown": an operator checked the system of record for an action whose
-- outcome was unknown and says what happened (`agentbus actions resolve`). The resolved outcome takes
-- the place of the unknown one as the action's first outcome, so a replay or a duplicate of the action
-- gets it, and a rollback reads its result. The unknown outcome is kept beside it, with who resolved it.
ALTER TABLE policy_actions ADD COLUMN IF NOT EXISTS resolved_by text;
ALTER TABLE policy_actions ADD COLUMN IF NOT EXISTS resolved_at timestamptz;
ALTER TABLE policy_actions ADD COLUMN IF NOT EXISTS unknown_outcome_payload jsonb;

-- Records a resolution once. status: 'resolved' (now), 'already_resolved' (earlier: its stored outcome
-- is returned, so the service can publish it again under the same id), 'not_unknown' (the action's
-- outcome is not outcome_unknown, or is not recorded yet), 'duplicate' (a duplicate follows its
-- original), 'not_found'. Settles consistently with policy_record_outcome: an unknown outcome was
-- settled at the reserved estimate (it may have happened); succeeded leaves that spent, failed gives
-- it back. Duplicates of the action that were sent its unknown outcome take the resolved one too, re-addressed
-- as policy_record_outcome's copies are (no cost, no attempts); they come back as extra rows (copy_*), for the
-- service to tell their agents, now and on every repeat.
CREATE FUNCTION policy_resolve_outcome(p_action_id text, p_outcome text, p_outcome_type text, p_payload jsonb, p_resolved_by text,
    p_now timestamptz)
RETURNS TABLE (status text, outcome_type text, outcome_payload jsonb, resolved_by text, resolved_at timestamptz,
    copy_action_id text, copy_agent_id text, copy_run_id text)
LANGUAGE plpgsql AS $$
DECLARE
    v_action policy_actions%ROWTYPE;
    v_charge cost_ledger%ROWTYPE;
BEGIN
    IF p_outcome NOT IN ('succeeded', 'failed') THEN
        RAISE EXCEPTION 'a resolution is succeeded or failed, not %', p_outcome;
    END IF;
    SELECT * INTO v_action FROM policy_actions a WHERE a.action_id = p_action_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::text, NULL::jsonb, NULL::text, NULL::timestamptz, NULL::text, NULL::text, NULL::text;
        RETURN;
    END IF;
    IF v_action.resolved_at IS NOT NULL THEN
        RETURN QUERY SELECT 'already_resolved'::text, v_action.outcome_type, v_action.outcome_payload, v_action.resolved_by, v_action.resolved_at,
            NULL::text, NULL::text, NULL::text;
        RETURN QUERY SELECT 'copy'::text, d.outcome_type, d.outcome_payload, d.resolved_by, d.resolved_at, d.action_id, d.agent_id, d.run_id
          FROM policy_actions d WHERE d.duplicate_of = p_action_id AND d.resolved_at IS NOT NULL;
        RETURN;
    END IF;
    IF v_action.duplicate_of IS NOT NULL THEN
        RETURN QUERY SELECT 'duplicate'::text, NULL::text, NULL::jsonb, NULL::text, NULL::timestamptz, NULL::text, NULL::text, NULL::text;
        RETURN;
    END IF;
    IF v_action.outcome IS DISTINCT FROM 'outcome_unknown' THEN
        RETURN QUERY SELECT 'not_unknown'::text, v_action.outcome, NULL::jsonb, NULL::text, NULL::timestamptz, NULL::text, NULL::text, NULL::text;
        RETURN;
    END IF;

    UPDATE policy_actions a SET unknown_outcome_payload = a.outcome_payload, outcome = p_outcome, outcome_type = p_outcome_type,
           outcome_payload = p_payload, resolved_by = p_resolved_by, resolved_at = p_now
     WHERE a.action_id = p_action_id;

    SELECT * INTO v_charge FROM cost_ledger c WHERE c.action_id = p_action_id FOR UPDATE;
    IF FOUND THEN
        IF p_outcome = 'failed' AND v_charge.status = 'settled' THEN
            PERFORM policy_adjust_budget(v_charge.agent_id, v_charge.run_id, v_charge.day, 0, -v_charge.amount_usd);
            UPDATE cost_ledger SET status = 'released', amount_usd = 0, settled_at = p_now WHERE entry_id = v_charge.entry_id;
        ELSIF p_outcome = 'failed' AND v_charge.status = 'reserved' THEN
            PERFORM policy_adjust_budget(v_charge.agent_id, v_charge.run_id, v_charge.day, -v_charge.reserved_usd, 0);
            UPDATE cost_ledger SET status = 'released', amount_usd = 0, settled_at = p_now WHERE entry_id = v_charge.entry_id;
        ELSIF p_outcome = 'succeeded' AND v_charge.status <> 'settled' THEN
            PERFORM policy_adjust_budget(v_charge.agent_id, v_charge.run_id, v_charge.day,
                CASE WHEN v_charge.status = 'reserved' THEN -v_charge.reserved_usd ELSE 0 END, v_charge.reserved_usd);
            UPDATE cost_ledger SET status = 'settled', amount_usd = v_charge.reserved_usd, settled_at = p_now WHERE entry_id = v_charge.entry_id;
        END IF;
    END IF;

    RETURN QUERY SELECT 'resolved'::text, p_outcome_type, p_payload, p_resolved_by, p_now, NULL::text, NULL::text, NULL::text;
    RETURN QUERY
      UPDATE policy_actions d SET unknown_outcome_payload = d.outcome_payload, outcome = p_outcome, outcome_type = p_outcome_type,
             outcome_payload = p_payload || jsonb_build_object('actionId', d.action_id, 'runId', d.run_id, 'agentId', d.agent_id,
                                                               'costUsd', 0, 'attempts', 0, 'durationMs', 0),
             resolved_by = p_resolved_by, resolved_at = p_now
       WHERE d.duplicate_of = p_action_id AND d.outcome = 'outcome_unknown' AND d.resolved_at IS NULL
      RETURNING 'copy'::text, d.outcome_type, d.outcome_payload, d.resolved_by, d.resolved_at, d.action_id, d.agent_id, d.run_id;
END
$$;

-- The policy login's alone (as 0711 and 0722 set for the functions before this).
REVOKE ALL ON FUNCTION policy_resolve_outcome(text, text, text, jsonb, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION policy_resolve_outcome(text, text, text, jsonb, text, timestamptz) TO agentbus_policy;
