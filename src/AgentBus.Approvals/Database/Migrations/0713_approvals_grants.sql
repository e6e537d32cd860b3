-- The approval saga's tables (role from the platform's 0300): the saga repository and its sweeper;
-- approvers are added and revoked by the CLI, read here. The run story comes from projections (0710).
GRANT SELECT, INSERT, UPDATE, DELETE ON approval_sagas TO agentbus_approvals;
GRANT SELECT ON approvers TO agentbus_approvals;
