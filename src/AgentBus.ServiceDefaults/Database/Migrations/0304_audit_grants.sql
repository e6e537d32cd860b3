-- Readers (roles from 0300): the auditor reads every table, now and created later, except what an
-- owner's grants take back (raw payloads: the projections' 0710). Each service's own rights are
-- granted by the migrations of the service that owns the table (0710-0713), never here.
GRANT USAGE ON SCHEMA public TO agentbus_auditor, agentbus_raw_payloads;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO agentbus_auditor;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO agentbus_auditor;
