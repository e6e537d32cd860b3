-- Every policy version a policy instance put in force (or ran in shadow), once, with what it is made
-- of (the policy file and its catalog files), so that `agentbus policy history|show|diff` can answer
-- "what was in force when" and "what changed", and any version can be restored or replayed.
CREATE TABLE policy_versions (
    version           text        PRIMARY KEY,
    -- {"policy": "<yaml>", "catalogFolder": "../catalog", "catalog": {"payments.yaml": "<yaml>", …}}
    content           jsonb       NOT NULL,
    source            text        NOT NULL,
    first_recorded_at timestamptz NOT NULL DEFAULT now()
);

-- When each instance had the version in force (role live) or ran it as the shadow candidate. last_seen_at
-- is refreshed while the version stays loaded, so first/last bound the time it was in force.
CREATE TABLE policy_version_periods (
    version       text        NOT NULL REFERENCES policy_versions (version),
    instance      text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('live', 'shadow')),
    first_seen_at timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    PRIMARY KEY (version, instance, role)
);

-- Shadow mode: the candidate (Policy:ShadowFile) decided every new proposal beside the live policy,
-- without enforcing anything. Counts per (candidate, live) pair; each disagreement with both decisions.
CREATE TABLE policy_shadow_counts (
    candidate_version text        NOT NULL,
    live_version      text        NOT NULL,
    agreed            bigint      NOT NULL DEFAULT 0,
    disagreed         bigint      NOT NULL DEFAULT 0,
    first_at          timestamptz NOT NULL,
    last_at           timestamptz NOT NULL,
    PRIMARY KEY (candidate_version, live_version)
);

CREATE TABLE policy_shadow_disagreements (
    id                    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    action_id             text        NOT NULL,
    agent_id              text        NOT NULL,
    run_id                text        NOT NULL,
    tool                  text        NOT NULL,
    operation             text,
    live_version          text,
    live_decision         text        NOT NULL,
    live_reason_code      text        NOT NULL,
    live_rule             text,
    candidate_version     text        NOT NULL,
    candidate_decision    text        NOT NULL,
    candidate_reason_code text        NOT NULL,
    candidate_rule        text,
    -- decision: the two decide differently; rule: the same decision by another rule or reason; terms: both
    -- permit, with different limits, budgets, cost or approval.
    kind                  text        NOT NULL CHECK (kind IN ('decision', 'rule', 'terms')),
    detail                text,
    decided_at            timestamptz NOT NULL,
    -- A redelivered proposal is not a second disagreement.
    UNIQUE (action_id, candidate_version)
);

CREATE INDEX policy_shadow_disagreements_at_idx ON policy_shadow_disagreements (decided_at);

GRANT SELECT, INSERT, UPDATE ON policy_versions, policy_version_periods, policy_shadow_counts, policy_shadow_disagreements TO agentbus_policy;
GRANT SELECT ON policy_versions, policy_version_periods, policy_shadow_counts, policy_shadow_disagreements TO agentbus_auditor;
