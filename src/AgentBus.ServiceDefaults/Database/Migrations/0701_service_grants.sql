-- Least privilege per service (roles from 0700), from the SQL each host runs. The database owner, which
-- applies migrations from the CLI, is no service's login any more: it could disable the audit's
-- triggers and rewrite the chain, which only an anchor kept outside the database catches (docs/audit.md).
--
-- agentbus_app, which every service shared, keeps nothing: a login still in it must move to its
-- service's role. Tables added by later migrations get no service rights by default: each migration
-- grants what the service that uses the table needs.

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM agentbus_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM agentbus_app;
REVOKE ALL ON FUNCTION audit_purge_raw_payloads(integer) FROM agentbus_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM agentbus_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM agentbus_app;
REVOKE USAGE ON SCHEMA public FROM agentbus_app;

-- Nobody but the owner creates objects here: no service can shadow a table with one of its own.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO agentbus_policy, agentbus_projections, agentbus_approvals, agentbus_executor;

-- policy: admission (policy_admit, or the same statements one by one), outcomes (policy_record_outcome),
-- the sweepers, spend reports, approvals it asked for; reads the kill switch the CLI writes.
GRANT SELECT ON policy_suspensions TO agentbus_policy;
GRANT SELECT, INSERT, UPDATE ON policy_actions, policy_runs, policy_run_attempts, budget_usage, cost_ledger, policy_approvals
    TO agentbus_policy;
GRANT SELECT, INSERT, UPDATE, DELETE ON policy_idempotency, policy_rate_windows TO agentbus_policy;

-- projections: appends to the audit and moves its head, never reads it back beyond what the append
-- needs (the duplicate check by event id; the head trigger's check of seq and hash); inserts raw
-- payloads it can never read, purges expired ones only through the function; run summaries.
GRANT SELECT (seq, event_id, hash), INSERT ON audit_events TO agentbus_projections;
GRANT SELECT, INSERT, UPDATE ON audit_chain_head TO agentbus_projections;
GRANT INSERT ON audit_raw_payloads TO agentbus_projections;
GRANT SELECT, INSERT, UPDATE ON run_summaries TO agentbus_projections;
GRANT EXECUTE ON FUNCTION audit_purge_raw_payloads(integer) TO agentbus_projections;

-- approvals: the saga repository and its sweeper; approvers are added and revoked by the CLI; the
-- run story on the inbox page reads the audit.
GRANT SELECT, INSERT, UPDATE, DELETE ON approval_sagas TO agentbus_approvals;
GRANT SELECT ON approvers, audit_events, run_summaries TO agentbus_approvals;

-- executor: the at-most-once claim; the kill switch for commands queued before a suspension.
GRANT SELECT, INSERT, UPDATE, DELETE ON execution_claims TO agentbus_executor;
GRANT SELECT ON policy_suspensions TO agentbus_executor;

-- The admission functions run with the caller's rights (SECURITY INVOKER): they need the grants above
-- and can do nothing the caller could not. Only policy calls them.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = 'public'::regnamespace AND p.proname IN ('policy_admit', 'policy_record_outcome') LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO agentbus_policy', f);
    END LOOP;
END
$$;

-- The audit triggers run as whoever writes: resolve names in fixed schemas, so that no session can
-- put an object of its own (a temporary table called audit_events) in front of the real one.
ALTER FUNCTION audit_refuse_change() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION audit_chain_head_advance() SET search_path = pg_catalog, public, pg_temp;
