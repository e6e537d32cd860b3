-- The cluster-wide group roles (NOLOGIN) the schema grants to. Login roles join them; docs/audit.md
-- says which host uses which, and each owner's migrations grant its service's role what it needs.
--
--   agentbus_policy              decisions, admission state, budgets, the cost ledger, approvals it asked for
--   agentbus_projections         the only role that may append to the audit log (and move its head)
--   agentbus_approvals           the approval saga; reads approvers and the run story
--   agentbus_executor            at-most-once claims; reads the kill switch
--   agentbus_auditor             read-only: agentbus audit verify, runs, gates, costs
--   agentbus_console             the operator console: what the auditor reads, plus the kill switch (0750)
--   agentbus_raw_payloads        read and purge the raw (unredacted) payloads, nobody else can
--   agentbus_audit_break_glass   the only members allowed to change or remove audit rows, and only
--                                after SET agentbus.audit_break_glass = '<reason>'
--   agentbus_app                 what every service once shared; it holds nothing now (0701)
--
-- `agentbus db roles --logins` creates one login per service (agentbus-policy, agentbus-projections,
-- agentbus-approvals, agentbus-executor-<tool>) in its group role only, with a generated password.
--
-- Roles belong to the whole PostgreSQL cluster, so this script is idempotent and tolerates another
-- database's migration creating the same role at the same moment. Creating roles needs CREATEROLE:
-- `agentbus db roles` runs this script with an administrator's connection once per cluster, after
-- which the database owner can apply the migrations. (Databases migrated before this created the
-- service roles in a separate 0700; its journal entry stays and nothing runs twice.)

DO $$
DECLARE
    wanted text[] := ARRAY['agentbus_app', 'agentbus_auditor', 'agentbus_raw_payloads', 'agentbus_audit_break_glass',
                           'agentbus_policy', 'agentbus_projections', 'agentbus_approvals', 'agentbus_executor',
                           'agentbus_console'];
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

-- The console reads what the auditor reads (never the raw payloads); its own grants are in 0750.
-- Granted only when missing: the database owner re-running this as a migration may not grant roles.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
                   WHERE g.rolname = 'agentbus_auditor' AND r.rolname = 'agentbus_console') THEN
        GRANT agentbus_auditor TO agentbus_console;
    END IF;
END
$$;
