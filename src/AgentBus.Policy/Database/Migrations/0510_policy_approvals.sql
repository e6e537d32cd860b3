-- The approvals the policy service asked for, and what became of them on its side. Policy keeps
-- the exact action it was asked about (the arguments as received, as text: jsonb would reorder keys
-- and normalise numbers), so that a grant is re-evaluated against the policy in force, and what it
-- executes is checked against what the agent proposed, not only against what the approval saga says.
CREATE TABLE policy_approvals (
    approval_id      uuid        PRIMARY KEY,
    action_id        text        NOT NULL UNIQUE REFERENCES policy_actions (action_id),
    agent_id         text        NOT NULL,
    run_id           text        NOT NULL,
    tool             text        NOT NULL,
    arguments_hash   text        NOT NULL,
    arguments        text        NOT NULL,
    idempotency_key  text,
    intent           text,
    -- What was asked: the rule, its group and quorum (a grant is re-checked against the policy in force).
    rule_id          text        NOT NULL,
    approver_group   text        NOT NULL,
    quorum           integer     NOT NULL,
    policy_version   text,
    -- pending: waiting for people; consuming: granted, re-checked, ConsumeApproval sent; authorized:
    -- the signed ExecuteTool was sent; the rest are final refusals.
    status           text        NOT NULL
        CHECK (status IN ('pending', 'consuming', 'authorized', 'denied', 'expired', 'cancelled', 'refused')),
    -- The one consumption policy uses the grant with (derived from the approval id).
    consumption_id   uuid,
    approvers        text[]      NOT NULL DEFAULT '{}',
    -- The final decision the agent was sent, so a re-sent proposal gets it again.
    final_decision   text        CHECK (final_decision IN ('allowed', 'denied')),
    reason_code      text,
    reason           text,
    requested_at     timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);

CREATE INDEX policy_approvals_open_idx ON policy_approvals (agent_id) WHERE status IN ('pending', 'consuming');
