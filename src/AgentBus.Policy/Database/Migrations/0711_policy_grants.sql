-- The policy service's tables and functions (roles from the platform's 0300): admission through the
-- policy_* functions, outcomes, the sweepers, spend reports, the approvals it asked for; it reads the
-- kill switch the CLI writes (and offers it to others as the kill_switch view, 0703).
GRANT SELECT ON policy_suspensions TO agentbus_policy;
GRANT SELECT, INSERT, UPDATE ON policy_actions, policy_runs, policy_run_attempts, budget_usage, cost_ledger, policy_approvals
    TO agentbus_policy;
GRANT SELECT, INSERT, UPDATE, DELETE ON policy_idempotency, policy_rate_windows TO agentbus_policy;

-- Every policy_* function is the policy login's alone. They run with the caller's rights (SECURITY
-- INVOKER), so they can do nothing the caller could not.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'policy\_%' LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO agentbus_policy', f);
    END LOOP;
END
$$;
