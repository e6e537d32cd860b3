-- Least privilege per service (roles from 0300). The database owner, which applies migrations from
-- the CLI, is no service's login: it could disable the audit's triggers and rewrite the chain, which
-- only an anchor kept outside the database catches (docs/audit.md). Each owner's migrations grant
-- its service what it needs on its own tables (0710 projections, 0711 policy, 0712 executor,
-- 0713 approvals); tables get no service rights by default.
--
-- agentbus_app, which every service once shared, keeps nothing (a database migrated before this
-- still had its grants): a login still in it must move to its service's role.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM agentbus_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM agentbus_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM agentbus_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM agentbus_app;
REVOKE USAGE ON SCHEMA public FROM agentbus_app;

-- Nobody but the owner creates objects here: no service can shadow a table with one of its own.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO agentbus_policy, agentbus_projections, agentbus_approvals, agentbus_executor;
