-- The audit and the run summaries belong to projections (roles from the platform's 0300).
--
-- projections appends to the audit and moves its head, never reads it back beyond what the append
-- needs (the duplicate check by event id; the head trigger's check of seq and hash); inserts raw
-- payloads it can never read, purges expired ones only through the function; run summaries.
GRANT SELECT (seq, event_id, hash), INSERT ON audit_events TO agentbus_projections;
GRANT SELECT, INSERT, UPDATE ON audit_chain_head TO agentbus_projections;
GRANT INSERT ON audit_raw_payloads TO agentbus_projections;
GRANT SELECT, INSERT, UPDATE ON run_summaries TO agentbus_projections;
REVOKE ALL ON FUNCTION audit_purge_raw_payloads(integer) FROM agentbus_app;
GRANT EXECUTE ON FUNCTION audit_purge_raw_payloads(integer) TO agentbus_projections, agentbus_raw_payloads;

-- Raw payloads are read only by their own role, never by the auditor who reads everything else.
REVOKE ALL ON audit_raw_payloads FROM agentbus_auditor;
GRANT SELECT, DELETE ON audit_raw_payloads TO agentbus_raw_payloads;

-- The read model projections offers the approvals inbox: the run story (docs/architecture.md).
GRANT SELECT ON audit_events, run_summaries TO agentbus_approvals;

-- The audit triggers run as whoever writes: resolve names in fixed schemas, so that no session can
-- put an object of its own (a temporary table called audit_events) in front of the real one.
ALTER FUNCTION audit_refuse_change() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION audit_chain_head_advance() SET search_path = pg_catalog, public, pg_temp;
