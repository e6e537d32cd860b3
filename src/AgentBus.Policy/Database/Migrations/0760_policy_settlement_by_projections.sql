-- Issue 13, a leaner action path: budgets are settled by the projections, in the transaction that
-- records the outcome in the audit, instead of from a copy of every outcome delivered to the policy
-- service (one delivery fewer per action, and several settlements per commit under load). The
-- projections apply the rule the policy service applied (an outcome counts only from the executors of
-- the tool it names, or from the policy service's copies; a refusal of an unsigned command settles
-- nothing) and call this function, their only way into the policy's tables.
--
-- Who still waits for an outcome (a duplicate's copy, a replay that came first) cannot be answered
-- from the projections, which may not write to agents: settling records the copies owed here, in the
-- same transaction, and the policy service sends them (woken by the notification, and on a timer).
CREATE TABLE IF NOT EXISTS policy_outcome_copies (
    action_id        text        PRIMARY KEY,
    agent_id         text        NOT NULL,
    run_id           text        NOT NULL,
    source_action_id text        NOT NULL,
    republish        boolean     NOT NULL,
    owed_since       timestamptz NOT NULL
);
-- UPDATE only because the sender locks the rows it sends (SELECT … FOR UPDATE SKIP LOCKED), so instances share them.
GRANT SELECT, UPDATE, DELETE ON policy_outcome_copies TO agentbus_policy;

CREATE OR REPLACE FUNCTION policy_settle_outcomes(p_action_ids text[], p_tools text[], p_outcomes text[], p_types text[],
    p_payloads text[], p_costs text[], p_now timestamptz)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    i integer;
    r record;
    v_owed integer := 0;
BEGIN
    -- In action id order, so two settling transactions lock the same actions in the same order.
    FOR i IN SELECT o.i FROM generate_subscripts(p_action_ids, 1) AS o(i) ORDER BY p_action_ids[o.i] LOOP
        FOR r IN SELECT * FROM policy_record_outcome(p_action_ids[i], p_tools[i], p_outcomes[i], p_types[i], p_payloads[i]::jsonb,
                                                     p_costs[i]::numeric, p_now) LOOP
            IF r.waiting_action_id IS NOT NULL THEN
                INSERT INTO policy_outcome_copies (action_id, agent_id, run_id, source_action_id, republish, owed_since)
                VALUES (r.waiting_action_id, r.waiting_agent_id, r.waiting_run_id, p_action_ids[i], r.waiting_is_self, p_now)
                ON CONFLICT (action_id) DO NOTHING;
                v_owed := v_owed + 1;
            END IF;
        END LOOP;
    END LOOP;
    IF v_owed > 0 THEN
        PERFORM pg_notify('agentbus_outcome_copies', '');
    END IF;
    RETURN v_owed;
END
$$;

REVOKE ALL ON FUNCTION policy_settle_outcomes(text[], text[], text[], text[], text[], text[], timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION policy_settle_outcomes(text[], text[], text[], text[], text[], text[], timestamptz) TO agentbus_projections;
