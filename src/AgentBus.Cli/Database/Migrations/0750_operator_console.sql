-- Issue 20, the operator console: its login (agentbus-console, group agentbus_console, created by
-- `agentbus db roles`) reads what the auditor reads and may work the kill switch, the same rows
-- `agentbus agents|tools suspend|resume` writes. Nothing else: dead letters and the audit events of
-- its changes go through the broker as the operator user, like the CLI's.
GRANT SELECT, INSERT, DELETE ON policy_suspensions TO agentbus_console;

-- The operators' trail (the Audit page) and the decisions of the last day (Agents) must answer
-- fast with millions of audit rows: a small partial index each, instead of a scan of the whole log.
CREATE INDEX audit_events_operator_idx ON audit_events (seq) WHERE event_type = 'OperatorActionTaken';
CREATE INDEX audit_events_decided_idx ON audit_events (occurred_at) WHERE event_type = 'ActionDecided';
