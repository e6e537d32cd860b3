-- Issue 20, the operator console: the operators' trail (its Audit page) and the decisions of the last
-- day (Agents and tools) must answer fast with millions of audit rows. A small partial index each,
-- instead of a scan of the whole log; appending a row of another type does not touch them.
CREATE INDEX audit_events_operator_idx ON audit_events (seq) WHERE event_type = 'OperatorActionTaken';
CREATE INDEX audit_events_decided_idx ON audit_events (occurred_at) WHERE event_type = 'ActionDecided';
