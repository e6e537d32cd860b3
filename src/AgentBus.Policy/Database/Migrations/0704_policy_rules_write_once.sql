-- The rate window and the run row took a row lock with an upsert that rewrote the row unchanged,
-- then wrote it again for real: two row versions per action where one does. Same rules, same
-- signatures (so 0711's grants stand), one write each.

-- Counts the call in this minute's window, in the same statement that takes the row lock, only
-- while the sliding window still has room; no row is written for a call that does not fit.
CREATE OR REPLACE FUNCTION policy_take_rate(p_scope text, p_subject text, p_window_start timestamptz, p_previous_weight float8, p_limit integer)
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

-- The run's row (created on its first action) with its start and tool calls so far, locked. The
-- common case, a run seen before, is a locking read and writes nothing.
CREATE OR REPLACE FUNCTION policy_open_run(p_agent_id text, p_run_id text, p_now timestamptz, OUT started_at timestamptz, OUT tool_calls integer)
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
