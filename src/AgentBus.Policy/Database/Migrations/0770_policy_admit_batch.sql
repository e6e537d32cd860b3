-- Issue 13, a leaner action path: group commit for admissions. Under load the policy service hands
-- the proposals that wait at the same moment to one call of this function, so several admissions
-- share one transaction and one commit; alone, a proposal is a batch of one and waits for no other.
--
-- Each request is admitted by policy_admit exactly as before, in its own subtransaction (a refusal
-- undoes only that request's writes), and gets the same answer it would have got alone.
--
-- Locks. One admission takes its agent's rows and then the tool's and operation's rate rows; a batch
-- takes them for several agents and tools, so two batches (from two policy instances) could each hold
-- a row the other waits for. All batches therefore queue on one transaction-scoped advisory lock
-- before touching a row: batches run one at a time across the cluster, each carrying up to a few
-- dozen admissions, and no two ever deadlock. Within a batch, requests run agent by agent (in
-- arrival order within an agent), so an agent's rows are taken together. A deadlock that remains
-- possible with a transaction outside admission (a granted approval's re-check, a settlement batch)
-- is broken by PostgreSQL, and the policy service then admits that batch's requests one by one.
CREATE FUNCTION policy_admit_batch(p_requests jsonb)
RETURNS TABLE (ordinal integer, result text, first_action_id text, run_started_at timestamptz, attempts integer, spent_usd numeric,
               reserved_usd numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    q record;
BEGIN
    -- 0x4167656e74427573 is 'AgentBus' in ASCII: the key every admission batch queues on.
    PERFORM pg_advisory_xact_lock(4712847060137833843);
    FOR q IN
        SELECT * FROM jsonb_to_recordset(p_requests) AS r(
            ordinal integer, action_id text, agent_id text, run_id text, tool text, operation text, arguments_hash text,
            idempotency_key text, now timestamptz, dedupe_key text, dedupe_expires_at timestamptz,
            window_start timestamptz, previous_weight float8, agent_calls_per_minute integer, tool_calls_per_minute integer,
            operation_calls_per_minute integer, run_max_tool_calls integer, run_max_retries integer, run_max_duration float8,
            cost numeric, day date, day_limit numeric, run_limit numeric, reservation_expires_at timestamptz,
            decision text, reason_code text, reason text, rule_id text, policy_version text, approval jsonb)
        ORDER BY r.agent_id, r.ordinal
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
