-- Each admission rule written once. First admission (policy_admit) and the re-check of a granted
-- approval (policy_readmit) used to be two implementations of the same rules, one here and one in
-- C#, with the budget period key computed in both languages and five writers of budget_usage. Now
-- both are compositions of the functions below, and every change to budget_usage goes through
-- policy_reserve_budget (a reservation that must fit the limit) or policy_adjust_budget (settling,
-- releasing, reported spend). A function called on the caller's connection runs in the caller's
-- transaction, so the approval re-check still holds the approval's row lock while it runs.

-- The budget_usage period keys, in one place: 'day:YYYY-MM-DD' (UTC) and 'run:<run id>'.
CREATE FUNCTION policy_day_period(p_day date) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'day:' || to_char(p_day, 'YYYY-MM-DD') $$;

CREATE FUNCTION policy_run_period(p_run_id text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'run:' || p_run_id $$;

-- The kill switch: 'agent_suspended', 'tool_suspended' (the agent wins when both are), or null.
CREATE FUNCTION policy_suspension(p_agent_id text, p_tool text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN bool_or(s.kind = 'agent') THEN 'agent_suspended' WHEN bool_or(s.kind = 'tool') THEN 'tool_suspended' END
      FROM policy_suspensions s
     WHERE (s.kind = 'agent' AND s.name = p_agent_id) OR (s.kind = 'tool' AND s.name = p_tool)
$$;

-- A sliding one-minute rate window: the previous minute weighted by how much of it still overlaps,
-- plus this minute. Counts the call and returns true while it fits the limit (null: no limit);
-- false, writing nothing, when it does not. The count is taken in the statement that locks this
-- minute's row, so the row is written once per call.
CREATE FUNCTION policy_take_rate(p_scope text, p_subject text, p_window_start timestamptz, p_previous_weight float8, p_limit integer)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_carried float8;
BEGIN
    IF p_limit IS NULL THEN
        RETURN true;
    END IF;
    SELECT coalesce(max(w.calls), 0) * p_previous_weight INTO v_carried FROM policy_rate_windows w
     WHERE w.scope = p_scope AND w.subject = p_subject AND w.window_start = p_window_start - interval '1 minute';
    IF v_carried + 1 > p_limit THEN
        RETURN false;
    END IF;
    -- ON CONFLICT re-checks the condition against the row as locked, so two instances cannot both
    -- take the last call.
    INSERT INTO policy_rate_windows AS w (scope, subject, window_start, calls) VALUES (p_scope, p_subject, p_window_start, 1)
    ON CONFLICT (scope, subject, window_start) DO UPDATE SET calls = w.calls + 1
     WHERE v_carried + w.calls + 1 <= p_limit;
    RETURN FOUND;
END
$$;

-- Both rate windows an action counts in: policy_take_rates, defined with the operation's window in 0721.

-- The run's row (created on its first action) with its start and tool calls so far, locked. The
-- common case, a run seen before, is a locking read and writes nothing.
CREATE FUNCTION policy_open_run(p_agent_id text, p_run_id text, p_now timestamptz, OUT started_at timestamptz, OUT tool_calls integer)
LANGUAGE plpgsql AS $$
BEGIN
    LOOP
        SELECT r.started_at, r.tool_calls INTO started_at, tool_calls
          FROM policy_runs r WHERE r.agent_id = p_agent_id AND r.run_id = p_run_id FOR UPDATE;
        IF FOUND THEN
            RETURN;
        END IF;
        INSERT INTO policy_runs AS r (agent_id, run_id, started_at, tool_calls) VALUES (p_agent_id, p_run_id, p_now, 0)
        ON CONFLICT (agent_id, run_id) DO NOTHING
        RETURNING r.started_at, r.tool_calls INTO started_at, tool_calls;
        IF FOUND THEN
            RETURN;
        END IF;
        -- Another instance inserted it between the read and the insert: read it again, locked.
    END LOOP;
END
$$;

-- The run's wall-clock cap (null: none).
CREATE FUNCTION policy_run_over_time(p_started_at timestamptz, p_now timestamptz, p_max_duration_seconds float8) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_max_duration_seconds IS NOT NULL AND p_now - p_started_at > make_interval(secs => p_max_duration_seconds)
$$;

-- Reserves p_cost in one period if spent + reserved + cost stays within p_limit (null: no limit),
-- in one UPDATE on the locked row; otherwise reserves nothing and reports the usage that refused it.
CREATE FUNCTION policy_reserve_budget(p_agent_id text, p_period text, p_cost numeric, p_limit numeric,
    OUT reserved boolean, OUT spent_usd numeric, OUT reserved_usd numeric)
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO budget_usage (agent_id, period) VALUES (p_agent_id, p_period) ON CONFLICT DO NOTHING;
    UPDATE budget_usage u SET reserved_usd = u.reserved_usd + p_cost
     WHERE u.agent_id = p_agent_id AND u.period = p_period
       AND (p_limit IS NULL OR u.spent_usd + u.reserved_usd + p_cost <= p_limit);
    reserved := FOUND;
    IF NOT reserved THEN
        SELECT u.spent_usd, u.reserved_usd INTO spent_usd, reserved_usd FROM budget_usage u WHERE u.agent_id = p_agent_id AND u.period = p_period;
    END IF;
END
$$;

-- Whether what one period holds already (this action's reservation included) still fits the limit
-- in force now (null: no limit); the row is locked until the caller's transaction ends.
CREATE FUNCTION policy_budget_fits(p_agent_id text, p_period text, p_limit numeric,
    OUT fits boolean, OUT spent_usd numeric, OUT reserved_usd numeric)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT u.spent_usd, u.reserved_usd INTO spent_usd, reserved_usd
      FROM budget_usage u WHERE u.agent_id = p_agent_id AND u.period = p_period FOR UPDATE;
    fits := p_limit IS NULL OR spent_usd IS NULL OR spent_usd + reserved_usd <= p_limit;
END
$$;

-- An action's reservation: its cost in the day's period, then in the run's, then its ledger row
-- (reserved until p_expires_at; a row the sweeper released is reserved again). The refusal that
-- applies ('budget_day', 'budget_run') and the usage that refused it, or null when reserved. The
-- caller undoes a half-made reservation by leaving its block with the refusal.
CREATE FUNCTION policy_reserve_action(p_action_id text, p_agent_id text, p_run_id text, p_tool text, p_day date, p_cost numeric,
    p_day_limit numeric, p_run_limit numeric, p_now timestamptz, p_expires_at timestamptz,
    OUT refusal text, OUT spent_usd numeric, OUT reserved_usd numeric)
LANGUAGE plpgsql AS $$
DECLARE
    v_ok boolean;
    v_period text;
    v_limit numeric;
    v_refusal text;
BEGIN
    -- The day first, then the run: every transaction locks the budget rows in this order.
    FOR v_period, v_limit, v_refusal IN
        SELECT l.period, l.max_usd, l.refusal
          FROM (VALUES (1, policy_day_period(p_day), p_day_limit, 'budget_day'),
                       (2, policy_run_period(p_run_id), p_run_limit, 'budget_run')) AS l(position, period, max_usd, refusal)
         ORDER BY l.position
    LOOP
        SELECT b.reserved, b.spent_usd, b.reserved_usd INTO v_ok, spent_usd, reserved_usd
          FROM policy_reserve_budget(p_agent_id, v_period, p_cost, v_limit) b;
        IF NOT v_ok THEN
            refusal := v_refusal;
            RETURN;
        END IF;
    END LOOP;
    INSERT INTO cost_ledger (source, agent_id, run_id, day, action_id, tool, status, reserved_usd, amount_usd, recorded_at, expires_at)
    VALUES ('tool', p_agent_id, p_run_id, p_day, p_action_id, p_tool, 'reserved', p_cost, 0, p_now, p_expires_at)
    ON CONFLICT (action_id) DO UPDATE SET status = 'reserved', day = EXCLUDED.day, reserved_usd = EXCLUDED.reserved_usd,
        amount_usd = 0, recorded_at = EXCLUDED.recorded_at, expires_at = EXCLUDED.expires_at, settled_at = NULL;
END
$$;

-- Every other change to the budget counters: a reservation given back or settled (negative
-- p_reserved_delta), money spent (p_spent_delta), in the day's and the run's period alike.
CREATE FUNCTION policy_adjust_budget(p_agent_id text, p_run_id text, p_day date, p_reserved_delta numeric, p_spent_delta numeric)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_period text;
BEGIN
    FOREACH v_period IN ARRAY ARRAY[policy_day_period(p_day), policy_run_period(p_run_id)] LOOP
        INSERT INTO budget_usage AS u (agent_id, period, reserved_usd, spent_usd)
        VALUES (p_agent_id, v_period, GREATEST(p_reserved_delta, 0), p_spent_delta)
        ON CONFLICT (agent_id, period) DO UPDATE
            SET reserved_usd = GREATEST(u.reserved_usd + p_reserved_delta, 0), spent_usd = u.spent_usd + p_spent_delta;
    END LOOP;
END
$$;

-- First admission (policy_admit) and the re-check of a granted approval (policy_readmit): composed of
-- the rules above, defined in 0721, which added the operation's rate window and the operation to the action's row.

-- Settling an outcome (policy_record_outcome): defined in 0722, which also answers a replay that came
-- before the outcome. A database migrated before 0722 holds this migration's version, dropped there.

-- Who may call these: 0711.
