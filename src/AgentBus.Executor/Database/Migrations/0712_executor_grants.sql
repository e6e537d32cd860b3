-- The executors' one table (role from the platform's 0300): the at-most-once claim. The kill switch
-- they read is the policy's kill_switch view (0703), not its table.
GRANT SELECT, INSERT, UPDATE, DELETE ON execution_claims TO agentbus_executor;
