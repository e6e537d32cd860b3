-- One cluster-wide group role (NOLOGIN) per service, so that each host connects with only the rights
-- its own code uses (granted in 0701) instead of the one shared agentbus_app:
--
--   agentbus_policy        decisions, admission state, budgets, the cost ledger, approvals it asked for
--   agentbus_projections   the only role that may append to the audit log (and move its head)
--   agentbus_approvals     the approval saga; reads approvers and the run story
--   agentbus_executor      at-most-once claims; reads the kill switch
--
-- Login roles join them: `agentbus db roles --logins` creates one per service (agentbus-policy,
-- agentbus-projections, agentbus-approvals, agentbus-executor-<tool>) with a generated password.
-- Like 0300 this needs CREATEROLE the first time, tolerates another database's migration creating the
-- same role at the same moment, and is also run by `agentbus db roles`.

DO $$
DECLARE
    wanted text[] := ARRAY['agentbus_policy', 'agentbus_projections', 'agentbus_approvals', 'agentbus_executor'];
    role_name text;
    may_create boolean;
BEGIN
    SELECT rolsuper OR rolcreaterole INTO may_create FROM pg_roles WHERE rolname = current_user;
    FOREACH role_name IN ARRAY wanted LOOP
        CONTINUE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = role_name);
        IF NOT may_create THEN
            RAISE EXCEPTION 'database role % does not exist, and % may not create roles', role_name, current_user
                USING HINT = 'Create the AgentBus roles once per PostgreSQL cluster with an administrator: agentbus db roles --postgres "<superuser connection string>"';
        END IF;
        BEGIN
            EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- created concurrently by a migration of another database
        END;
    END LOOP;
END
$$;
