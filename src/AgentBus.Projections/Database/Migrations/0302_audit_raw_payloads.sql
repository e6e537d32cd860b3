-- The second tier: the unredacted message, kept only where redaction changed something (or the
-- message could not be read), only for a while, and readable only by agentbus_raw_payloads.
-- The long-lived row in audit_events keeps the redacted copy; the raw copy is not part of the hash
-- chain, so purging it leaves the chain intact.

CREATE TABLE audit_raw_payloads (
    event_id    uuid        PRIMARY KEY,
    seq         bigint      NOT NULL,
    payload     bytea       NOT NULL,
    recorded_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);

-- Expiry follows insertion order (recorded_at + a fixed retention), so BRIN is enough for the purge.
CREATE INDEX audit_raw_payloads_expires_idx ON audit_raw_payloads USING brin (expires_at);

-- The purge job: deletes up to max_rows expired payloads and says how many. Runs
-- with the owner's rights so that the services (agentbus_app), which may not read or delete raw
-- payloads, can still purge the expired ones and nothing else.
CREATE FUNCTION audit_purge_raw_payloads(max_rows integer DEFAULT 10000) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
        WITH doomed AS (
            SELECT event_id FROM public.audit_raw_payloads
            WHERE expires_at < now()
            LIMIT greatest(max_rows, 0)
            FOR UPDATE SKIP LOCKED
        ), gone AS (
            DELETE FROM public.audit_raw_payloads r USING doomed d WHERE r.event_id = d.event_id RETURNING 1
        )
        SELECT count(*)::integer FROM gone
    $$;

REVOKE ALL ON FUNCTION audit_purge_raw_payloads(integer) FROM PUBLIC;
