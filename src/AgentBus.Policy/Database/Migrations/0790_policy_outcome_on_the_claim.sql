-- Issue 13, a leaner action path: an executor's outcome is stored once, on its claim. The executor
-- commits it there before publishing it (execution_claims.outcome, 0200), and the audit keeps its own
-- redacted copy; until now settling it (policy_record_outcome, from the projections) wrote the same
-- JSON a third time into policy_actions. Settling now checks that the claim of the action's own tool
-- holds the very outcome being settled and keeps only its SHA-256 here. policy_outcome_payload reads
-- it back for replays, duplicates' copies, rollbacks and resolutions, and only while the claim still
-- hashes to what was settled: the executors' logins may write claims, so a claim changed after
-- settling (a foothold in any executor's login) is refused with an error, never sent to an agent or
-- used to build an undo. What a claim does not hold as it was settled (a duplicate's copy, an
-- operator's resolution, an outcome whose JSON jsonb cannot hold, a claim changed before it was
-- settled) is stored here in full, as before. Rows settled before this migration keep their payload.
ALTER TABLE policy_actions ADD COLUMN IF NOT EXISTS outcome_sha256 bytea;

-- The version of 0722, with the payload kept only where the claim does not hold it.
CREATE OR REPLACE FUNCTION policy_record_outcome(p_action_id text, p_tool text, p_outcome text, p_outcome_type text, p_payload jsonb,
    p_actual_cost numeric, p_now timestamptz)
RETURNS TABLE (recorded boolean, waiting_action_id text, waiting_agent_id text, waiting_run_id text, waiting_is_self boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_duplicate_of text;
    v_outcome text;
    v_found boolean;
    v_replay_waiting boolean;
    v_agent_id text;
    v_run_id text;
    v_claimed text;
    v_payload jsonb := p_payload;
    v_sha256 bytea;
    v_charge cost_ledger%ROWTYPE;
    v_amount numeric;
    v_held numeric;
BEGIN
    SELECT a.duplicate_of, a.outcome, true, a.replay_waiting, a.agent_id, a.run_id
      INTO v_duplicate_of, v_outcome, v_found, v_replay_waiting, v_agent_id, v_run_id
      FROM policy_actions a WHERE a.action_id = p_action_id AND a.tool = p_tool FOR UPDATE;
    IF v_found IS NULL OR v_outcome IS NOT NULL THEN
        RETURN QUERY SELECT false, NULL::text, NULL::text, NULL::text, false;
        RETURN;
    END IF;

    SELECT c.outcome::text INTO v_claimed FROM execution_claims c
     WHERE c.action_id = p_action_id AND c.tool = p_tool AND c.state <> 'running' AND c.outcome_type = p_outcome_type;
    -- jsonb refuses \u0000 and a lone surrogate that json keeps; such a claim is compared with nothing
    -- (the payload is kept here) rather than failing the settlement.
    IF v_claimed IS NOT NULL AND v_claimed !~* '\\u(0000|d[89a-f])' AND v_claimed::jsonb = p_payload THEN
        v_sha256 := sha256(convert_to(v_claimed, 'UTF8'));
        v_payload := NULL;
    END IF;

    UPDATE policy_actions SET outcome = p_outcome, outcome_type = p_outcome_type, outcome_payload = v_payload,
           outcome_sha256 = v_sha256, outcome_at = p_now, replay_waiting = false
     WHERE action_id = p_action_id;
    IF v_replay_waiting THEN
        RETURN QUERY SELECT true, p_action_id, v_agent_id, v_run_id, true;
    END IF;
    IF v_duplicate_of IS NOT NULL THEN
        IF NOT v_replay_waiting THEN
            RETURN QUERY SELECT true, NULL::text, NULL::text, NULL::text, false;
        END IF;
        RETURN;
    END IF;

    SELECT * INTO v_charge FROM cost_ledger c WHERE c.action_id = p_action_id FOR UPDATE;
    IF FOUND AND v_charge.status <> 'settled' THEN
        v_amount := CASE p_outcome
            WHEN 'succeeded' THEN coalesce(p_actual_cost, v_charge.reserved_usd)
            WHEN 'outcome_unknown' THEN v_charge.reserved_usd
            ELSE 0 END;
        v_held := CASE WHEN v_charge.status = 'reserved' THEN v_charge.reserved_usd ELSE 0 END;
        PERFORM policy_adjust_budget(v_charge.agent_id, v_charge.run_id, v_charge.day, -v_held, v_amount);
        UPDATE cost_ledger SET status = CASE WHEN p_outcome = 'failed' THEN 'released' ELSE 'settled' END,
               amount_usd = v_amount, settled_at = p_now
         WHERE entry_id = v_charge.entry_id;
    END IF;

    RETURN QUERY SELECT true, d.action_id, d.agent_id, d.run_id, false
      FROM policy_actions d WHERE d.duplicate_of = p_action_id AND d.outcome IS NULL;
    IF NOT FOUND AND NOT v_replay_waiting THEN
        RETURN QUERY SELECT true, NULL::text, NULL::text, NULL::text, false;
    END IF;
END
$$;

-- An action's first outcome as JSON text: the payload kept here, or else the claim's, checked against
-- the hash settled. Null while the action has no outcome. A claim that no longer hashes to what was
-- settled is an error, or, with p_strict false (the copy sender, which must not let one such action
-- hold up every other copy), null. The policy login's way to the claim's outcome; it cannot read
-- execution_claims. The auditor's logins read every table already, and rollback plans use this.
CREATE OR REPLACE FUNCTION policy_outcome_payload(p_action_id text, p_strict boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public AS $$
DECLARE
    v_action record;
    v_claimed text;
BEGIN
    SELECT a.tool, a.outcome_payload, a.outcome_sha256 INTO v_action FROM policy_actions a WHERE a.action_id = p_action_id;
    IF v_action.outcome_payload IS NOT NULL OR v_action.outcome_sha256 IS NULL THEN
        RETURN v_action.outcome_payload::text;
    END IF;
    SELECT c.outcome::text INTO v_claimed FROM execution_claims c WHERE c.action_id = p_action_id AND c.tool = v_action.tool;
    IF v_claimed IS NOT NULL AND sha256(convert_to(v_claimed, 'UTF8')) = v_action.outcome_sha256 THEN
        RETURN v_claimed;
    END IF;
    IF NOT p_strict THEN
        RAISE WARNING 'the outcome of action % was settled from its executor''s claim, and that claim no longer holds it as settled', p_action_id;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the outcome of action % was settled from its executor''s claim, and that claim no longer holds it as settled', p_action_id
        USING ERRCODE = 'data_corrupted',
              HINT = 'Someone with an executor''s database login changed or removed the row in execution_claims after the outcome was settled; the audit log holds the outcome as it was published.';
END
$$;

REVOKE ALL ON FUNCTION policy_outcome_payload(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION policy_outcome_payload(text, boolean) TO agentbus_policy, agentbus_auditor;
