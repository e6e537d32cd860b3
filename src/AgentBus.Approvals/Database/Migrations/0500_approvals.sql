-- Approvals: the approval saga (one row per approval, locked while an event is handled) and the
-- people who may approve.

CREATE TABLE approval_sagas (
    correlation_id    uuid        PRIMARY KEY,
    -- Moved on by every update; an update that read an older version fails and is retried.
    version           integer     NOT NULL,
    -- The whole saga instance (ApprovalState) as JSON.
    data              jsonb       NOT NULL,
    -- Typed copies of what the lists and the sweeper query, written with data.
    current_state     text,
    action_id         text,
    run_id            text,
    agent_id          text,
    tool              text,
    rule_id           text,
    approver_group    text,
    escalation_group  text,
    expires_at        timestamptz,
    escalate_at       timestamptz,
    requested_at      timestamptz,
    -- The sweeper's own marks: when it last asked the saga to expire or escalate this row.
    expiry_sent_at     timestamptz,
    escalation_sent_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX approval_sagas_open_expiry_idx     ON approval_sagas (expires_at)  WHERE current_state IN ('Pending', 'Escalated');
CREATE INDEX approval_sagas_open_escalation_idx ON approval_sagas (escalate_at) WHERE current_state = 'Pending' AND escalate_at IS NOT NULL;
CREATE INDEX approval_sagas_open_group_idx      ON approval_sagas (approver_group, requested_at) WHERE current_state IN ('Pending', 'Escalated');
CREATE INDEX approval_sagas_open_agent_idx      ON approval_sagas (agent_id) WHERE current_state IN ('Pending', 'Escalated', 'Granted');
CREATE INDEX approval_sagas_open_tool_idx       ON approval_sagas (tool)     WHERE current_state IN ('Pending', 'Escalated', 'Granted');

-- Approvers authenticate with a random bearer token shown once by `agentbus approvers add`; only its
-- SHA-256 is stored. A revoked approver keeps the row (names stay unique in the audit trail).
CREATE TABLE approvers (
    name        text        PRIMARY KEY,
    groups      text[]      NOT NULL,
    token_hash  bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    token_issued_at timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CONSTRAINT approvers_token_hash_key UNIQUE (token_hash),
    CONSTRAINT approvers_name_check CHECK (name ~ '^[a-z0-9][a-z0-9._@-]{0,127}$'),
    CONSTRAINT approvers_groups_check CHECK (cardinality(groups) > 0)
);
