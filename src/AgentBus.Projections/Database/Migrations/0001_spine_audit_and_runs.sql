-- The spine's projections: every event as an audit row, and one summary row per run.

CREATE TABLE audit_events (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     uuid        NOT NULL,
    event_type   text        NOT NULL,
    action_id    text,
    run_id       text,
    agent_id     text,
    tool         text,
    outcome      text        NOT NULL,
    reason_code  text,
    payload      jsonb       NOT NULL,
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    -- A redelivered event carries the same message id and must not become a second row.
    CONSTRAINT audit_events_event_id_key UNIQUE (event_id)
);

CREATE INDEX audit_events_run_idx    ON audit_events (run_id, seq);
CREATE INDEX audit_events_action_idx ON audit_events (action_id, seq);
CREATE INDEX audit_events_agent_idx  ON audit_events (agent_id, occurred_at);

-- A run may involve several agents (an orchestrator and its helpers), so one row per agent in it.
CREATE TABLE run_summaries (
    run_id            text          NOT NULL,
    agent_id          text          NOT NULL,
    first_event_at    timestamptz   NOT NULL,
    last_event_at     timestamptz   NOT NULL,
    actions_allowed   integer       NOT NULL DEFAULT 0,
    actions_denied    integer       NOT NULL DEFAULT 0,
    actions_pending   integer       NOT NULL DEFAULT 0,
    actions_succeeded integer       NOT NULL DEFAULT 0,
    actions_failed    integer       NOT NULL DEFAULT 0,
    cost_usd          numeric(18,6) NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, agent_id)
);

CREATE INDEX run_summaries_agent_idx ON run_summaries (agent_id, last_event_at DESC);
