-- Issue 13, a leaner action path: the audit no longer reads its own copy of every ExecuteTool from
-- the broker (one delivery fewer per action). The policy service keeps the signed command it sends
-- here, in the transaction that authorizes it (the admission batch, or a granted approval's
-- re-check), before it is published. The projections take it out in the transaction that records the
-- action's outcome and write the authorization (and, for an action allowed at once, its decision)
-- just before it; a command that has no outcome after a while (its executor down, its queue long) is
-- taken by the projections' sweep instead. Taking deletes: a command is written to the audit once,
-- and the table holds only what the audit has not written yet.
--
-- Only the policy login writes here; the projections get in through policy_take_authorizations alone,
-- which returns what the policy stored, so the audit's authorization rows say only what the policy
-- service signed.
CREATE TABLE IF NOT EXISTS policy_pending_authorizations (
    action_id      text        PRIMARY KEY,
    -- The ExecuteTool's message id, which is the audit row's event id: a copy delivered the old way
    -- (a command sent before the upgrade) and this row are recognised as the same event.
    message_id     uuid        NOT NULL,
    -- The proposal's message id, which the audit ties the decision and authorization rows to.
    correlation_id text,
    -- Text, not jsonb: jsonb refuses the \u0000 escape a hostile but valid argument may carry, and
    -- the command must be kept whatever its arguments are.
    command        text        NOT NULL,
    authorized_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS policy_pending_authorizations_age_idx ON policy_pending_authorizations (authorized_at);
GRANT SELECT, INSERT ON policy_pending_authorizations TO agentbus_policy;

-- The one way a command is kept: by the admission batch below and by a granted approval's re-check.
-- A command kept before for the action (a repeat) stays as it was.
CREATE OR REPLACE FUNCTION policy_keep_authorization(p_action_id text, p_message_id uuid, p_correlation_id text, p_command text,
    p_authorized_at timestamptz)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO policy_pending_authorizations (action_id, message_id, correlation_id, command, authorized_at)
    VALUES (p_action_id, p_message_id, p_correlation_id, p_command, p_authorized_at)
    ON CONFLICT (action_id) DO NOTHING;
$$;

REVOKE ALL ON FUNCTION policy_keep_authorization(text, uuid, text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION policy_keep_authorization(text, uuid, text, text, timestamptz) TO agentbus_policy;

-- 0770's batch, now also keeping the command of each proposal admitted as allowed at once.
CREATE OR REPLACE FUNCTION policy_admit_batch(p_requests jsonb)
RETURNS TABLE (ordinal bigint, result text, first_action_id text, run_started_at timestamptz, attempts integer, spent_usd numeric,
               reserved_usd numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    q record;
    a record;
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
            decision text, reason_code text, reason text, rule_id text, policy_version text, approval jsonb,
            command_message_id uuid, command_correlation_id text, command text)
        ORDER BY r.agent_id COLLATE "C", e.n
    LOOP
        SELECT * INTO a
          FROM policy_admit(q.action_id, q.agent_id, q.run_id, q.tool, q.operation, q.arguments_hash, q.idempotency_key, q.now,
                            q.dedupe_key, q.dedupe_expires_at,
                            q.window_start, q.previous_weight, q.agent_calls_per_minute, q.tool_calls_per_minute, q.operation_calls_per_minute,
                            q.run_max_tool_calls, q.run_max_retries, q.run_max_duration,
                            q.cost, q.day, q.day_limit, q.run_limit, q.reservation_expires_at,
                            q.decision, q.reason_code, q.reason, q.rule_id, q.policy_version, q.approval);
        IF a.result = 'admitted' AND q.command IS NOT NULL THEN
            PERFORM policy_keep_authorization(q.action_id, q.command_message_id, q.command_correlation_id, q.command, q.now);
        END IF;
        RETURN QUERY SELECT q.ordinal, a.result, a.first_action_id, a.run_started_at, a.attempts, a.spent_usd, a.reserved_usd;
    END LOOP;
END
$$;

-- The projections' only way in: the commands of the actions whose outcomes they are recording, and,
-- for the sweep, up to p_limit commands authorized before p_older_than (skipping those another
-- transaction is taking), oldest first. Two statements, so each finds its rows by an index.
CREATE OR REPLACE FUNCTION policy_take_authorizations(p_action_ids text[], p_older_than timestamptz, p_limit integer)
RETURNS TABLE (message_id uuid, correlation_id text, command text, authorized_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH taken AS (
        DELETE FROM policy_pending_authorizations p WHERE p.action_id = ANY(p_action_ids)
        RETURNING p.message_id, p.correlation_id, p.command, p.authorized_at, p.action_id
    )
    SELECT t.message_id, t.correlation_id, t.command, t.authorized_at FROM taken t ORDER BY t.authorized_at, t.action_id;
    IF p_older_than IS NOT NULL THEN
        RETURN QUERY
        WITH taken AS (
            DELETE FROM policy_pending_authorizations p
             WHERE p.action_id IN (SELECT s.action_id FROM policy_pending_authorizations s WHERE s.authorized_at < p_older_than
                                    ORDER BY s.authorized_at LIMIT p_limit FOR UPDATE SKIP LOCKED)
            RETURNING p.message_id, p.correlation_id, p.command, p.authorized_at, p.action_id
        )
        SELECT t.message_id, t.correlation_id, t.command, t.authorized_at FROM taken t ORDER BY t.authorized_at, t.action_id;
    END IF;
END
$$;

REVOKE ALL ON FUNCTION policy_take_authorizations(text[], timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION policy_take_authorizations(text[], timestamptz, integer) TO agentbus_projections;
