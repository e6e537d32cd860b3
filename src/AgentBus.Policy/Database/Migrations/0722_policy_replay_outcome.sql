-- A replay that came before the outcome gets the outcome when it lands. An agent that proposes an
-- action id again is promised its first decision and, once it ran, its outcome. If the outcome has
-- already reached the agent's queue (and was taken by a client that no longer waited) but is not yet
-- recorded here, the replay finds no outcome to send; the row now remembers that a replay waits
-- (replay_waiting), and settling the outcome sends it to the agent once more, under the outcome's own
-- message id, so the audit records it once.
ALTER TABLE policy_actions ADD COLUMN IF NOT EXISTS replay_waiting boolean NOT NULL DEFAULT false;

-- The versions before this one: 0601's first, and 0702's.
DROP FUNCTION IF EXISTS policy_record_outcome(text, text, text, jsonb, numeric, timestamptz);
DROP FUNCTION IF EXISTS policy_record_outcome(text, text, text, text, jsonb, numeric, timestamptz);

-- Settling an outcome, its budget change through policy_adjust_budget. An outcome counts only for an
-- action of the tool it names: the policy service already checks that it came from that tool's
-- executors (their broker user), and here the action's own tool must match, so a foothold in one
-- executor cannot end, release or settle another tool's actions. The rows returned are who still
-- waits for this outcome: duplicates (a copy under their own action id) and, with waiting_is_self,
-- this action's own replay.
CREATE FUNCTION policy_record_outcome(p_action_id text, p_tool text, p_outcome text, p_outcome_type text, p_payload jsonb,
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

    UPDATE policy_actions SET outcome = p_outcome, outcome_type = p_outcome_type, outcome_payload = p_payload, outcome_at = p_now,
           replay_waiting = false
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

-- The policy login's alone (as 0711 set for the functions before this).
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
