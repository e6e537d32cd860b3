-- The kill switch as other services read it: one read model the policy side owns and documents
-- (docs/architecture.md), so no service reads another's table. The executor checks it in the statement
-- that claims an action, for commands that were queued before a suspension; it may only read it.
CREATE VIEW kill_switch AS
    SELECT kind, name, suspended_at FROM policy_suspensions;

-- Default privileges (0304) would give the shared application role write access through the view,
-- which PostgreSQL would carry out with the view owner's rights.
REVOKE ALL ON kill_switch FROM PUBLIC, agentbus_app;
GRANT SELECT ON kill_switch TO agentbus_executor, agentbus_auditor;
REVOKE ALL ON policy_suspensions FROM agentbus_executor;
