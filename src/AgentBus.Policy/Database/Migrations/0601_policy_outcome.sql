-- Settling an executor's outcome (CostLedger.RecordOutcomeAsync) in one round trip, as the admission
-- step is (0600). In one transaction, with the action's row locked: the outcome is kept for
-- duplicates (once: a repeated outcome changes nothing); the reservation becomes the actual cost
-- (succeeded), stays at the estimate (outcome unknown: it may have happened) or is released
-- (failed before it ran), in the ledger and in both budget counters; and the duplicates still
-- waiting for this outcome are returned, so the caller sends each its copy.
--
-- One row per waiting duplicate, or one row without one; recorded = false when the action is
-- unknown here or its outcome was recorded before.
CREATE FUNCTION policy_record_outcome(p_action_id text, p_outcome text, p_outcome_type text, p_payload jsonb,
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
    v_period text;
BEGIN
    SELECT a.duplicate_of, a.outcome, true INTO v_duplicate_of, v_outcome, v_found
      FROM policy_actions a WHERE a.action_id = p_action_id FOR UPDATE;
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
        FOREACH v_period IN ARRAY ARRAY['day:' || to_char(v_charge.day, 'YYYY-MM-DD'), 'run:' || v_charge.run_id] LOOP
            INSERT INTO budget_usage AS u (agent_id, period, reserved_usd, spent_usd)
            VALUES (v_charge.agent_id, v_period, GREATEST(-v_held, 0), v_amount)
            ON CONFLICT (agent_id, period) DO UPDATE
                SET reserved_usd = GREATEST(u.reserved_usd - v_held, 0), spent_usd = u.spent_usd + v_amount;
        END LOOP;
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
