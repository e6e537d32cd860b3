-- Catalog operations in admission. An operation may have its own calls-per-minute window beside the
-- agent's and the tool's (limits.operations in the policy), the action's row names its operation (a
-- reused action id with another operation is not a replay of the first), and retries count per
-- operation. The three functions below replace their 0702 versions, which a database migrated
-- before this still holds; 0702 no longer defines them, so each is defined here only.
ALTER TABLE policy_rate_windows DROP CONSTRAINT IF EXISTS policy_rate_windows_scope_check;
ALTER TABLE policy_rate_windows ADD CONSTRAINT policy_rate_windows_scope_check CHECK (scope IN ('agent', 'tool', 'operation'));
ALTER TABLE policy_actions ADD COLUMN IF NOT EXISTS operation text;

-- The versions before this one: 0600's policy_admit, and 0702's three.
DROP FUNCTION IF EXISTS policy_admit(text, text, text, text, text, text, timestamptz, text, timestamptz, timestamptz, float8, integer, integer,
    integer, integer, float8, numeric, date, text, numeric, text, numeric, timestamptz, text, text, text, text, text, jsonb);
DROP FUNCTION IF EXISTS policy_admit(text, text, text, text, text, text, timestamptz, text, timestamptz, timestamptz, float8, integer, integer,
    integer, integer, float8, numeric, date, numeric, numeric, timestamptz, text, text, text, text, text, jsonb);
DROP FUNCTION IF EXISTS policy_readmit(text, text, text, text, timestamptz, timestamptz, float8, integer, integer,
    float8, numeric, date, numeric, numeric, timestamptz);
DROP FUNCTION IF EXISTS policy_take_rates(text, text, timestamptz, float8, integer, integer);

-- Every rate window an action counts in: the agent's, the tool's, then the operation's (p_operation
-- is tool.operation, null for a generic tool). The refusal that applies ('agent_rate', 'tool_rate',
-- 'operation_rate'), or null when all counted the call.
CREATE FUNCTION policy_take_rates(p_agent_id text, p_tool text, p_operation text, p_window_start timestamptz, p_previous_weight float8,
    p_agent_calls_per_minute integer, p_tool_calls_per_minute integer, p_operation_calls_per_minute integer) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT policy_take_rate('agent', p_agent_id, p_window_start, p_previous_weight, p_agent_calls_per_minute) THEN
        RETURN 'agent_rate';
    END IF;
    IF NOT policy_take_rate('tool', p_tool, p_window_start, p_previous_weight, p_tool_calls_per_minute) THEN
        RETURN 'tool_rate';
    END IF;
    IF p_operation IS NOT NULL AND NOT policy_take_rate('operation', p_operation, p_window_start, p_previous_weight, p_operation_calls_per_minute) THEN
        RETURN 'operation_rate';
    END IF;
    RETURN NULL;
END
$$;

-- First admission, composed of the rules of 0702 (the periods are derived here).

CREATE FUNCTION policy_admit(
    p_action_id text, p_agent_id text, p_run_id text, p_tool text, p_operation text, p_arguments_hash text, p_idempotency_key text,
    p_now timestamptz,
    p_dedupe_key text, p_dedupe_expires_at timestamptz,
    p_window_start timestamptz, p_previous_weight float8, p_agent_calls_per_minute integer, p_tool_calls_per_minute integer,
    p_operation_calls_per_minute integer,
    p_run_max_tool_calls integer, p_run_max_retries integer, p_run_max_duration_seconds float8,
    p_cost numeric, p_day date, p_day_limit numeric, p_run_limit numeric, p_reservation_expires_at timestamptz,
    p_decision text, p_reason_code text, p_reason text, p_rule_id text, p_policy_version text, p_approval jsonb)
RETURNS TABLE (result text, first_action_id text, run_started_at timestamptz, attempts integer, spent_usd numeric, reserved_usd numeric)
LANGUAGE plpgsql AS $$
DECLARE
    v_result text;
    v_first text;
    v_started timestamptz;
    v_calls integer;
    v_attempts integer;
    v_spent numeric;
    v_reserved numeric;
BEGIN
    IF EXISTS (SELECT FROM policy_actions WHERE action_id = p_action_id) THEN
        RETURN QUERY SELECT 'stored'::text, NULL::text, NULL::timestamptz, NULL::integer, NULL::numeric, NULL::numeric;
        RETURN;
    END IF;

    v_result := policy_suspension(p_agent_id, p_tool);
    IF v_result IS NOT NULL THEN
        RETURN QUERY SELECT v_result, NULL::text, NULL::timestamptz, NULL::integer, NULL::numeric, NULL::numeric;
        RETURN;
    END IF;

    -- A refusal leaves this block with SQLSTATE AB001, which undoes every write in it.
    BEGIN
        -- Claims "this action"; ON CONFLICT waits for a concurrent first claimant: if it commits this
        -- proposal is its duplicate, if it rolls back this one claims.
        IF p_dedupe_key IS NOT NULL THEN
            INSERT INTO policy_idempotency AS c (agent_id, dedupe_key, action_id, expires_at)
            VALUES (p_agent_id, p_dedupe_key, p_action_id, p_dedupe_expires_at)
            ON CONFLICT (agent_id, dedupe_key) DO UPDATE SET action_id = EXCLUDED.action_id, expires_at = EXCLUDED.expires_at
                WHERE c.expires_at <= p_now
            RETURNING c.action_id INTO v_first;
            IF v_first IS NULL THEN
                SELECT c.action_id INTO v_first FROM policy_idempotency c WHERE c.agent_id = p_agent_id AND c.dedupe_key = p_dedupe_key;
                v_result := 'duplicate';
                RAISE EXCEPTION USING ERRCODE = 'AB001', MESSAGE = 'agentbus: admission refused';
            END IF;
            v_first := NULL;
        END IF;

        v_result := policy_take_rates(p_agent_id, p_tool, p_operation, p_window_start, p_previous_weight,
                                      p_agent_calls_per_minute, p_tool_calls_per_minute, p_operation_calls_per_minute);
        IF v_result IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'AB001', MESSAGE = 'agentbus: admission refused';
        END IF;

        SELECT r.started_at, r.tool_calls INTO v_started, v_calls FROM policy_open_run(p_agent_id, p_run_id, p_now) r;
        IF policy_run_over_time(v_started, p_now, p_run_max_duration_seconds) THEN
            v_result := 'run_time';
            RAISE EXCEPTION USING ERRCODE = 'AB001', MESSAGE = 'agentbus: admission refused';
        END IF;
        IF p_run_max_tool_calls IS NOT NULL AND v_calls >= p_run_max_tool_calls THEN
            v_result := 'run_tool_calls';
            RAISE EXCEPTION USING ERRCODE = 'AB001', MESSAGE = 'agentbus: admission refused';
        END IF;

        -- Retries are of the same operation: reading and closing a ticket with one id are two actions.
        INSERT INTO policy_run_attempts AS a (agent_id, run_id, tool, arguments_hash, attempts)
        VALUES (p_agent_id, p_run_id, coalesce(p_operation, p_tool), p_arguments_hash, 1)
        ON CONFLICT (agent_id, run_id, tool, arguments_hash) DO UPDATE SET attempts = a.attempts + 1
        RETURNING a.attempts INTO v_attempts;
        IF p_run_max_retries IS NOT NULL AND v_attempts - 1 > p_run_max_retries THEN
            v_result := 'run_retries';
            RAISE EXCEPTION USING ERRCODE = 'AB001', MESSAGE = 'agentbus: admission refused';
        END IF;
        UPDATE policy_runs SET tool_calls = tool_calls + 1 WHERE agent_id = p_agent_id AND run_id = p_run_id;

        SELECT b.refusal, b.spent_usd, b.reserved_usd INTO v_result, v_spent, v_reserved
          FROM policy_reserve_action(p_action_id, p_agent_id, p_run_id, p_tool, p_day, p_cost, p_day_limit, p_run_limit,
                                     p_now, p_reservation_expires_at) b;
        IF v_result IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'AB001', MESSAGE = 'agentbus: admission refused';
        END IF;

        -- A concurrent instance that decided the same action id first wins: this fails on the key,
        -- the consume is retried, and replays that decision.
        INSERT INTO policy_actions (action_id, agent_id, run_id, tool, operation, arguments_hash, idempotency_key, decision, reason_code,
            reason, rule_id, policy_version, duplicate_of, estimated_cost_usd, approval, decided_at)
        VALUES (p_action_id, p_agent_id, p_run_id, p_tool, p_operation, p_arguments_hash, p_idempotency_key, p_decision, p_reason_code,
            p_reason, p_rule_id, p_policy_version, NULL, p_cost, p_approval, p_now);
    EXCEPTION
        WHEN SQLSTATE 'AB001' THEN
            RETURN QUERY SELECT v_result, v_first, v_started, v_attempts, v_spent, v_reserved;
            RETURN;
    END;

    RETURN QUERY SELECT 'admitted'::text, NULL::text, NULL::timestamptz, NULL::integer, NULL::numeric, NULL::numeric;
END
$$;

-- A granted approval goes back through the same rules before anything runs, in the caller's
-- transaction (which holds the approval's row): the live kill switch; the rate windows, where the
-- execution counts in the current minute; the run's wall-clock cap; and the budget under the limits
-- in force now. Run tool calls and retries were counted when the approval was requested and are
-- not counted again. The reservation made then is kept if its day and run still fit the current
-- limits, and held until p_hold_until; if the sweeper released it meanwhile it is reserved again,
-- today. Results: 'admitted', or the refusal as policy_admit words it, plus 'budget_day_held' /
-- 'budget_run_held' (the kept reservation no longer fits; held_day names its day). A refusal
-- undoes what this counted.
CREATE FUNCTION policy_readmit(
    p_action_id text, p_agent_id text, p_run_id text, p_tool text, p_operation text, p_now timestamptz,
    p_window_start timestamptz, p_previous_weight float8, p_agent_calls_per_minute integer, p_tool_calls_per_minute integer,
    p_operation_calls_per_minute integer, p_run_max_duration_seconds float8, p_cost numeric, p_day date, p_day_limit numeric, p_run_limit numeric, p_hold_until timestamptz)
RETURNS TABLE (result text, run_started_at timestamptz, spent_usd numeric, reserved_usd numeric, held_day date)
LANGUAGE plpgsql AS $$
DECLARE
    v_result text;
    v_started timestamptz;
    v_status text;
    v_day date;
    v_ok boolean;
    v_spent numeric;
    v_reserved numeric;
BEGIN
    v_result := policy_suspension(p_agent_id, p_tool);
    IF v_result IS NOT NULL THEN
        RETURN QUERY SELECT v_result, NULL::timestamptz, NULL::numeric, NULL::numeric, NULL::date;
        RETURN;
    END IF;

    BEGIN
        v_result := policy_take_rates(p_agent_id, p_tool, p_operation, p_window_start, p_previous_weight,
                                      p_agent_calls_per_minute, p_tool_calls_per_minute, p_operation_calls_per_minute);
        IF v_result IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'AB001', MESSAGE = 'agentbus: readmission refused';
        END IF;

        SELECT r.started_at INTO v_started FROM policy_runs r WHERE r.agent_id = p_agent_id AND r.run_id = p_run_id;
        IF v_started IS NOT NULL AND policy_run_over_time(v_started, p_now, p_run_max_duration_seconds) THEN
            v_result := 'run_time';
            RAISE EXCEPTION USING ERRCODE = 'AB001', MESSAGE = 'agentbus: readmission refused';
        END IF;

        SELECT c.status, c.day INTO v_status, v_day FROM cost_ledger c WHERE c.action_id = p_action_id FOR UPDATE;
        IF v_status = 'reserved' THEN
            SELECT b.fits, b.spent_usd, b.reserved_usd INTO v_ok, v_spent, v_reserved
              FROM policy_budget_fits(p_agent_id, policy_day_period(v_day), p_day_limit) b;
            IF NOT v_ok THEN
                v_result := 'budget_day_held';
                RAISE EXCEPTION USING ERRCODE = 'AB001', MESSAGE = 'agentbus: readmission refused';
            END IF;
            SELECT b.fits, b.spent_usd, b.reserved_usd INTO v_ok, v_spent, v_reserved
              FROM policy_budget_fits(p_agent_id, policy_run_period(p_run_id), p_run_limit) b;
            IF NOT v_ok THEN
                v_result := 'budget_run_held';
                RAISE EXCEPTION USING ERRCODE = 'AB001', MESSAGE = 'agentbus: readmission refused';
            END IF;
            UPDATE cost_ledger SET expires_at = GREATEST(expires_at, p_hold_until) WHERE action_id = p_action_id;
        ELSIF v_status IS DISTINCT FROM 'settled' THEN
            -- Released by the sweeper (or never reserved): reserve again, under today's and the run's limits.
            SELECT b.refusal, b.spent_usd, b.reserved_usd INTO v_result, v_spent, v_reserved
              FROM policy_reserve_action(p_action_id, p_agent_id, p_run_id, p_tool, p_day, p_cost, p_day_limit, p_run_limit,
                                         p_now, p_hold_until) b;
            IF v_result IS NOT NULL THEN
                RAISE EXCEPTION USING ERRCODE = 'AB001', MESSAGE = 'agentbus: readmission refused';
            END IF;
        END IF;
    EXCEPTION
        WHEN SQLSTATE 'AB001' THEN
            RETURN QUERY SELECT v_result, v_started, v_spent, v_reserved, v_day;
            RETURN;
    END;

    RETURN QUERY SELECT 'admitted'::text, NULL::timestamptz, NULL::numeric, NULL::numeric, NULL::date;
END
$$;

-- Every policy_* function is the policy login's alone (as 0711 set for those before this).
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = 'public'::regnamespace AND p.proname IN ('policy_take_rates', 'policy_admit', 'policy_readmit') LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO agentbus_policy', f);
    END LOOP;
END
$$;
