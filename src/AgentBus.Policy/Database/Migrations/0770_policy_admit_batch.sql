-- Issue 13, a leaner action path: group commit for admissions. Under load the policy service hands
-- the proposals that wait at the same moment to one call of policy_admit_batch, so several
-- admissions share one transaction and one commit; alone, a proposal is a batch of one and waits for
-- no other.
--
-- Each request is admitted by policy_admit exactly as before, in its own subtransaction (a refusal
-- undoes only that request's writes), and gets the same answer it would have got alone.
--
-- Locks. One admission takes its agent's rows and then the tool's and operation's rate rows; a batch
-- takes them for several agents and tools, so two batches (from two policy instances) could each hold
-- a row the other waits for. Every admission therefore first queues on one transaction-scoped
-- advisory lock (policy_admission_lock): batches and granted approvals' re-checks (policy_readmit)
-- run one at a time across the cluster, each batch carrying up to a few dozen admissions, and none
-- ever waits for a row another admission holds. The other transactions that lock several agents'
-- budget rows, settlement (policy_settle_outcomes, redefined below) and the sweeper releasing expired
-- reservations, take them agent by agent in byte order, as a batch does: no cycle is left. Should
-- PostgreSQL still break a deadlock, the batch has committed nothing and the policy service admits its
-- requests one by one.
CREATE FUNCTION policy_admission_lock() RETURNS void
LANGUAGE sql AS $$
    -- 0x4167656e74427573 is 'AgentBus' in ASCII.
    SELECT pg_advisory_xact_lock(4712847060137833843);
$$;

CREATE FUNCTION policy_admit_batch(p_requests jsonb)
RETURNS TABLE (ordinal bigint, result text, first_action_id text, run_started_at timestamptz, attempts integer, spent_usd numeric,
               reserved_usd numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    q record;
BEGIN
    PERFORM policy_admission_lock();
    -- Numbered in arrival order (from 1): each answer comes back under its request's number.
    FOR q IN
        SELECT e.n AS ordinal, r.* FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS e(item, n),
            jsonb_to_record(e.item) AS r(
            action_id text, agent_id text, run_id text, tool text, operation text, arguments_hash text,
            idempotency_key text, now timestamptz, dedupe_key text, dedupe_expires_at timestamptz,
            window_start timestamptz, previous_weight float8, agent_calls_per_minute integer, tool_calls_per_minute integer,
            operation_calls_per_minute integer, run_max_tool_calls integer, run_max_retries integer, run_max_duration float8,
            cost numeric, day date, day_limit numeric, run_limit numeric, reservation_expires_at timestamptz,
            decision text, reason_code text, reason text, rule_id text, policy_version text, approval jsonb)
        ORDER BY r.agent_id COLLATE "C", e.n
    LOOP
        RETURN QUERY
        SELECT q.ordinal, a.result, a.first_action_id, a.run_started_at, a.attempts, a.spent_usd, a.reserved_usd
          FROM policy_admit(q.action_id, q.agent_id, q.run_id, q.tool, q.operation, q.arguments_hash, q.idempotency_key, q.now,
                            q.dedupe_key, q.dedupe_expires_at,
                            q.window_start, q.previous_weight, q.agent_calls_per_minute, q.tool_calls_per_minute, q.operation_calls_per_minute,
                            q.run_max_tool_calls, q.run_max_retries, q.run_max_duration,
                            q.cost, q.day, q.day_limit, q.run_limit, q.reservation_expires_at,
                            q.decision, q.reason_code, q.reason, q.rule_id, q.policy_version, q.approval) a;
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION policy_admit_batch(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION policy_admit_batch(jsonb) TO agentbus_policy;
REVOKE ALL ON FUNCTION policy_admission_lock() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION policy_admission_lock() TO agentbus_policy;

-- 0760's settlement, in agent order (then action id, so two settling transactions still lock the same
-- actions in the same order): a settlement batch takes budget rows as an admission batch does.
CREATE OR REPLACE FUNCTION policy_settle_outcomes(p_action_ids text[], p_tools text[], p_outcomes text[], p_types text[],
    p_payloads text[], p_costs text[], p_now timestamptz)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    i integer;
    r record;
    v_owed integer := 0;
BEGIN
    FOR i IN SELECT o.i FROM generate_subscripts(p_action_ids, 1) AS o(i)
             LEFT JOIN policy_actions a ON a.action_id = p_action_ids[o.i]
             ORDER BY a.agent_id COLLATE "C", p_action_ids[o.i] LOOP
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
