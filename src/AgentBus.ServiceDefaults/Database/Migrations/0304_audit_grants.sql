-- Who may do what (roles from 0300). Services connect as a login role in agentbus_app: it reads and
-- writes the application's tables, but may only append to the audit log (the append-only trigger
-- refuses changes even to the owner), may only insert raw payloads, and purges them through
-- audit_purge_raw_payloads. Tables created by later migrations get the same default rights.

GRANT USAGE ON SCHEMA public TO agentbus_app, agentbus_auditor, agentbus_raw_payloads;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO agentbus_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO agentbus_app;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO agentbus_auditor;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO agentbus_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO agentbus_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO agentbus_auditor;

REVOKE ALL ON schemaversions FROM agentbus_app;
GRANT SELECT ON schemaversions TO agentbus_app;

REVOKE ALL ON audit_events FROM agentbus_app;
GRANT SELECT, INSERT ON audit_events TO agentbus_app;
REVOKE ALL ON audit_chain_head FROM agentbus_app;
GRANT SELECT, INSERT, UPDATE ON audit_chain_head TO agentbus_app;

REVOKE ALL ON audit_raw_payloads FROM agentbus_app, agentbus_auditor;
GRANT INSERT ON audit_raw_payloads TO agentbus_app;
GRANT SELECT, DELETE ON audit_raw_payloads TO agentbus_raw_payloads;
GRANT EXECUTE ON FUNCTION audit_purge_raw_payloads(integer) TO agentbus_app, agentbus_raw_payloads;
