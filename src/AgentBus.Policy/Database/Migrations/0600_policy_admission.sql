-- The admission step (kill switch, idempotency claim, rates, run caps, budget reservation, and the
-- record of the decision) in one round trip. The policy service used to send each of these ~17
-- statements separately while holding the locks of the agent's hot rows (rate window, run, budget
-- day) between them; done here, the locks are held for the microseconds the statements take and a
-- proposal costs one network round trip instead of seventeen. The rules are exactly those of
-- AdmissionStore: every limit is an atomic statement on a locked row, rows are locked in the same
-- order (idempotency, agent rate, tool rate, run, attempts, budget day, budget run), and a refusal
-- undoes every write (the inner block is a savepoint, left with SQLSTATE AB001) and records nothing: the caller words the
-- refusal and records it.
--
-- Result: 'stored' (this action id was decided before: replay it), 'admitted' (recorded),
-- 'duplicate' (first_action_id holds the claim; nothing written), or the refusal that applies:
-- 'agent_suspended', 'tool_suspended', 'agent_rate', 'tool_rate', 'run_time' (run_started_at),
-- 'run_tool_calls', 'run_retries' (attempts), 'budget_day' / 'budget_run' (spent_usd, reserved_usd).
CREATE FUNCTION policy_admit(
    p_action_id text, p_agent_id text, p_run_id text, p_tool text, p_arguments_hash text, p_idempotency_key text,
    p_now timestamptz,
    -- "The same action" (null: no duplicate detection) and how long the claim holds.
    p_dedupe_key text, p_dedupe_expires_at timestamptz,
    -- Sliding one-minute rate window: this minute's start, the weight of the previous minute, the limits (null: none).
    p_window_start timestamptz, p_previous_weight float8, p_agent_calls_per_minute integer, p_tool_calls_per_minute integer,
    -- Run caps (null: none).
    p_run_max_tool_calls integer, p_run_max_retries integer, p_run_max_duration_seconds float8,
    -- Budget reservation.
    p_cost numeric, p_day date, p_day_period text, p_day_limit numeric, p_run_period text, p_run_limit numeric,
    p_reservation_expires_at timestamptz,
    -- The decision recorded when admitted.
    p_decision text, p_reason_code text, p_reason text, p_rule_id text, p_policy_version text, p_approval jsonb)
RETURNS TABLE (result text, first_action_id text, run_started_at timestamptz, attempts integer, spent_usd numeric, reserved_usd numeric)
LANGUAGE plpgsql AS $$
DECLARE
    v_result text;
    v_first text;
    v_current integer;
    v_previous integer;
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

    SELECT CASE WHEN bool_or(s.kind = 'agent') THEN 'agent_suspended' WHEN bool_or(s.kind = 'tool') THEN 'tool_suspended' END
      INTO v_result
      FROM policy_suspensions s
     WHERE (s.kind = 'agent' AND s.name = p_agent_id) OR (s.kind = 'tool' AND s.name = p_tool);
    IF v_result IS NOT NULL THEN
        RETURN QUERY SELECT v_result, NULL::text, NULL::timestamptz, NULL::integer, NULL::numeric, NULL::numeric;
        RETURN;
    END IF;

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

        IF p_agent_calls_per_minute IS NOT NULL THEN
            INSERT INTO policy_rate_windows AS w (scope, subject, window_start, calls) VALUES ('agent', p_agent_id, p_window_start, 0)
            ON CONFLICT (scope, subject, window_start) DO UPDATE SET calls = w.calls
            RETURNING w.calls INTO v_current;
            SELECT w.calls INTO v_previous FROM policy_rate_windows w
             WHERE w.scope = 'agent' AND w.subject = p_agent_id AND w.window_start = p_window_start - interval '1 minute';
            IF coalesce(v_previous, 0) * p_previous_weight + v_current + 1 > p_agent_calls_per_minute THEN
                v_result := 'agent_rate';
                RAISE EXCEPTION USING ERRCODE = 'AB001', MESSAGE = 'agentbus: admission refused';
            END IF;
            UPDATE policy_rate_windows SET calls = calls + 1
             WHERE scope = 'agent' AND subject = p_agent_id AND window_start = p_window_start;
        END IF;

        IF p_tool_calls_per_minute IS NOT NULL THEN
            INSERT INTO policy_rate_windows AS w (scope, subject, window_start, calls) VALUES ('tool', p_tool, p_window_start, 0)
            ON CONFLICT (scope, subject, window_start) DO UPDATE SET calls = w.calls
            RETURNING w.calls INTO v_current;
            v_previous := NULL;
            SELECT w.calls INTO v_previous FROM policy_rate_windows w
             WHERE w.scope = 'tool' AND w.subject = p_tool AND w.window_start = p_window_start - interval '1 minute';
            IF coalesce(v_previous, 0) * p_previous_weight + v_current + 1 > p_tool_calls_per_minute THEN
                v_result := 'tool_rate';
                RAISE EXCEPTION USING ERRCODE = 'AB001', MESSAGE = 'agentbus: admission refused';
            END IF;
            UPDATE policy_rate_windows SET calls = calls + 1
             WHERE scope = 'tool' AND subject = p_tool AND window_start = p_window_start;
        END IF;

        INSERT INTO policy_runs AS r (agent_id, run_id, started_at, tool_calls) VALUES (p_agent_id, p_run_id, p_now, 0)
        ON CONFLICT (agent_id, run_id) DO UPDATE SET tool_calls = r.tool_calls
        RETURNING r.started_at, r.tool_calls INTO v_started, v_calls;
        IF p_run_max_duration_seconds IS NOT NULL AND p_now - v_started > make_interval(secs => p_run_max_duration_seconds) THEN
            v_result := 'run_time';
            RAISE EXCEPTION USING ERRCODE = 'AB001', MESSAGE = 'agentbus: admission refused';
        END IF;
        IF p_run_max_tool_calls IS NOT NULL AND v_calls >= p_run_max_tool_calls THEN
            v_result := 'run_tool_calls';
            RAISE EXCEPTION USING ERRCODE = 'AB001', MESSAGE = 'agentbus: admission refused';
        END IF;

        INSERT INTO policy_run_attempts AS a (agent_id, run_id, tool, arguments_hash, attempts)
        VALUES (p_agent_id, p_run_id, p_tool, p_arguments_hash, 1)
        ON CONFLICT (agent_id, run_id, tool, arguments_hash) DO UPDATE SET attempts = a.attempts + 1
        RETURNING a.attempts INTO v_attempts;
        IF p_run_max_retries IS NOT NULL AND v_attempts - 1 > p_run_max_retries THEN
            v_result := 'run_retries';
            RAISE EXCEPTION USING ERRCODE = 'AB001', MESSAGE = 'agentbus: admission refused';
        END IF;
        UPDATE policy_runs SET tool_calls = tool_calls + 1 WHERE agent_id = p_agent_id AND run_id = p_run_id;

        INSERT INTO budget_usage (agent_id, period) VALUES (p_agent_id, p_day_period) ON CONFLICT DO NOTHING;
        UPDATE budget_usage u SET reserved_usd = u.reserved_usd + p_cost
         WHERE u.agent_id = p_agent_id AND u.period = p_day_period
           AND (p_day_limit IS NULL OR u.spent_usd + u.reserved_usd + p_cost <= p_day_limit);
        IF NOT FOUND THEN
            SELECT u.spent_usd, u.reserved_usd INTO v_spent, v_reserved FROM budget_usage u WHERE u.agent_id = p_agent_id AND u.period = p_day_period;
            v_result := 'budget_day';
            RAISE EXCEPTION USING ERRCODE = 'AB001', MESSAGE = 'agentbus: admission refused';
        END IF;

        INSERT INTO budget_usage (agent_id, period) VALUES (p_agent_id, p_run_period) ON CONFLICT DO NOTHING;
        UPDATE budget_usage u SET reserved_usd = u.reserved_usd + p_cost
         WHERE u.agent_id = p_agent_id AND u.period = p_run_period
           AND (p_run_limit IS NULL OR u.spent_usd + u.reserved_usd + p_cost <= p_run_limit);
        IF NOT FOUND THEN
            SELECT u.spent_usd, u.reserved_usd INTO v_spent, v_reserved FROM budget_usage u WHERE u.agent_id = p_agent_id AND u.period = p_run_period;
            v_result := 'budget_run';
            RAISE EXCEPTION USING ERRCODE = 'AB001', MESSAGE = 'agentbus: admission refused';
        END IF;

        INSERT INTO cost_ledger (source, agent_id, run_id, day, action_id, tool, status, reserved_usd, amount_usd, recorded_at, expires_at)
        VALUES ('tool', p_agent_id, p_run_id, p_day, p_action_id, p_tool, 'reserved', p_cost, 0, p_now, p_reservation_expires_at);

        -- A concurrent instance that decided the same action id first wins: this fails on the key,
        -- the consume is retried, and replays that decision.
        INSERT INTO policy_actions (action_id, agent_id, run_id, tool, arguments_hash, idempotency_key, decision, reason_code,
            reason, rule_id, policy_version, duplicate_of, estimated_cost_usd, approval, decided_at)
        VALUES (p_action_id, p_agent_id, p_run_id, p_tool, p_arguments_hash, p_idempotency_key, p_decision, p_reason_code,
            p_reason, p_rule_id, p_policy_version, NULL, p_cost, p_approval, p_now);
    EXCEPTION
        WHEN SQLSTATE 'AB001' THEN
            RETURN QUERY SELECT v_result, v_first, v_started, v_attempts, v_spent, v_reserved;
            RETURN;
    END;

    RETURN QUERY SELECT 'admitted'::text, NULL::text, NULL::timestamptz, NULL::integer, NULL::numeric, NULL::numeric;
END
$$;
