-- Issue 17, "Resolve the unknown": an operator's finding for an action whose claim ended
-- outcome_unknown (`agentbus actions resolve`). One row per action, written by the CLI (the database
-- owner's connection) before it tells the policy service; `agentbus actions unknown` lists only
-- unknown actions without one. A table of the operators' own, not columns of execution_claims: the
-- executors' login may update their claims, and must not be able to write or erase an operator's
-- finding (it gets no grant here; 0712 stays as it is). No foreign key to execution_claims: each
-- owner's migrations apply on their own, and the CLI checks the claim under its lock.
CREATE TABLE execution_resolutions (
    action_id          text        PRIMARY KEY,
    state              text        NOT NULL CHECK (state IN ('succeeded', 'failed')),
    resolved_by        text        NOT NULL,
    evidence           text        NOT NULL,
    -- The result the system of record shows (succeeded only), as published to the agent.
    result             json,
    external_reference text,
    resolved_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT execution_resolutions_result_check CHECK (state = 'succeeded' OR result IS NULL)
);
