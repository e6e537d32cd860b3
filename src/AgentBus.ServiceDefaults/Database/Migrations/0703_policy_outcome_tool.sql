-- An outcome counts only for an action of the tool it names: the policy service already checks that
-- the outcome came from that tool's executors (their broker user), and here the action's own tool
-- must match, so a foothold in one executor cannot end, release or settle another tool's actions.
DROP FUNCTION policy_record_outcome(text, text, text, jsonb, numeric, timestamptz);

CREATE FUNCTION policy_record_outcome(p_action_id text, p_tool text, p_outcome text, p_outcome_type text, p_payload jsonb,
    p_actual_cost numeric, p_now timestamptz)
RETURNS TABLE (recorded boolean, waiting_action_id text, waiting_agent_id text, waiting_run_id text)
LANGUAGE plpgsql AS $$
DECLARE
    v_duplicate_of text;
    v_outcome text;
    v_found boolean;
    v_charge cost_ledger%ROWTYPE;
    v_amount numeric;
    v_held numeric;
BEGIN
    SELECT a.duplicate_of, a.outcome, true INTO v_duplicate_of, v_outcome, v_found
      FROM policy_actions a WHERE a.action_id = p_action_id AND a.tool = p_tool FOR UPDATE;
    IF v_found IS NULL OR v_outcome IS NOT NULL THEN
        RETURN QUERY SELECT false, NULL::text, NULL::text, NULL::text;
        RETURN;
    END IF;

    UPDATE policy_actions SET outcome = p_outcome, outcome_type = p_outcome_type, outcome_payload = p_payload, outcome_at = p_now
     WHERE action_id = p_action_id;
    IF v_duplicate_of IS NOT NULL THEN
        RETURN QUERY SELECT true, NULL::text, NULL::text, NULL::text;
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

    RETURN QUERY SELECT true, d.action_id, d.agent_id, d.run_id
      FROM policy_actions d WHERE d.duplicate_of = p_action_id AND d.outcome IS NULL;
    IF NOT FOUND THEN
        RETURN QUERY SELECT true, NULL::text, NULL::text, NULL::text;
    END IF;
END
$$;

DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = 'public'::regnamespace AND p.proname = 'policy_record_outcome' LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO agentbus_policy', f);
    END LOOP;
END
$$;
