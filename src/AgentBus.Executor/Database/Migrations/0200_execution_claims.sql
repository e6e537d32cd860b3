-- At most once per action id: an executor copy inserts the claim before it calls the tool, keeps
-- heartbeat_at fresh while the call runs, and records the outcome it published. A redelivered
-- command reads this row: finished -> publish the recorded outcome again; running with a stale
-- heartbeat -> the copy died mid-call, the outcome is unknown; running and fresh -> wait.

CREATE TABLE execution_claims (
    action_id          text        PRIMARY KEY,
    tool               text        NOT NULL,
    run_id             text        NOT NULL,
    agent_id           text        NOT NULL,
    arguments_hash     text        NOT NULL,
    state              text        NOT NULL
        CONSTRAINT execution_claims_state_check CHECK (state IN ('running', 'succeeded', 'failed', 'outcome_unknown')),
    -- Which copy holds the claim, and a token only that consume attempt knows: every later write is
    -- conditional on it, so a copy that lost its claim can never overwrite the recorded outcome.
    executor           text        NOT NULL,
    claim_token        uuid        NOT NULL,
    claimed_at         timestamptz NOT NULL DEFAULT now(),
    heartbeat_at       timestamptz NOT NULL DEFAULT now(),
    finished_at        timestamptz,
    attempts           integer     NOT NULL DEFAULT 0,
    outcome_type       text,
    outcome_message_id uuid,
    -- json, not jsonb: the event is published again byte for byte.
    outcome            json,
    -- What a copy learned after another had already declared the outcome unknown: for the operator
    -- who reconciles the action, never published.
    late_outcome       json,
    CONSTRAINT execution_claims_outcome_check CHECK ((state = 'running') = (outcome IS NULL))
);

CREATE INDEX execution_claims_open_idx ON execution_claims (tool, heartbeat_at) WHERE state = 'running';
CREATE INDEX execution_claims_unknown_idx ON execution_claims (tool, finished_at) WHERE state = 'outcome_unknown';
