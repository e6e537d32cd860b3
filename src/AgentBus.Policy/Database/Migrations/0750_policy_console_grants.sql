-- Issue 20, the operator console: its login (agentbus-console, group agentbus_console, created by
-- `agentbus db roles`) reads what the auditor reads and works the kill switch, the same rows
-- `agentbus agents|tools suspend|resume` writes. Nothing else of the policy's: dead letters and the
-- audit events of its changes go through the broker as the operator user, like the CLI's.
GRANT SELECT, INSERT, DELETE ON policy_suspensions TO agentbus_console;
