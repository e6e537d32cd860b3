-- The audit log becomes a hash chain: every row carries the previous row's hash and its own,
-- computed over its canonical content (docs/audit.md; AgentBus.Audit.Chain.AuditChain computes the
-- same bytes). Positions are assigned by the writer without gaps, so a missing row shows as a gap.
-- The payload is kept as the exact JSON text that was hashed (a jsonb column would normalize it).

ALTER TABLE audit_events ALTER COLUMN seq DROP IDENTITY IF EXISTS;
ALTER TABLE audit_events ALTER COLUMN payload TYPE text USING payload::text;
ALTER TABLE audit_events
    ADD COLUMN rule_id            text,
    ADD COLUMN policy_version     text,
    ADD COLUMN actor              text,
    ADD COLUMN correlation_id     text,
    ADD COLUMN external_reference text,
    ADD COLUMN cost_usd           numeric(18,6),
    ADD COLUMN prev_hash          bytea,
    ADD COLUMN hash               bytea;

-- One field of the canonical content: 4-byte big-endian length and UTF-8 bytes, or -1 for NULL.
CREATE FUNCTION audit_field(value text) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN value IS NULL THEN '\xffffffff'::bytea
                ELSE int4send(length(convert_to(value, 'UTF8'))) || convert_to(value, 'UTF8') END;

CREATE FUNCTION audit_micros(value timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ((extract(epoch FROM value) * 1000000)::bigint)::text;

CREATE FUNCTION audit_event_content(e audit_events) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN convert_to('agentbus.audit.v1', 'UTF8')
        || audit_field(e.event_id::text) || audit_field(e.event_type) || audit_field(e.action_id) || audit_field(e.run_id)
        || audit_field(e.agent_id) || audit_field(e.tool) || audit_field(e.outcome) || audit_field(e.reason_code)
        || audit_field(e.rule_id) || audit_field(e.policy_version) || audit_field(e.actor) || audit_field(e.correlation_id)
        || audit_field(e.external_reference) || audit_field(trim_scale(e.cost_usd)::text) || audit_field(e.payload)
        || audit_field(audit_micros(e.occurred_at)) || audit_field(audit_micros(e.recorded_at));

-- The row's hash given the previous row's: what the writer stores and `agentbus audit verify` recomputes.
CREATE FUNCTION audit_event_hash(previous bytea, e audit_events) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN sha256(previous || audit_event_content(e));

-- Rows written before the chain existed join it in their original order.
UPDATE audit_events SET seq = -seq;
UPDATE audit_events a SET seq = n.position
FROM (SELECT seq, row_number() OVER (ORDER BY seq DESC) AS position FROM audit_events) n
WHERE a.seq = n.seq;

DO $$
DECLARE
    r audit_events;
    previous bytea := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
BEGIN
    FOR r IN SELECT * FROM audit_events ORDER BY seq LOOP
        UPDATE audit_events SET prev_hash = previous, hash = audit_event_hash(previous, r) WHERE seq = r.seq;
        previous := audit_event_hash(previous, r);
    END LOOP;
END
$$;

ALTER TABLE audit_events
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN hash SET NOT NULL,
    ADD CONSTRAINT audit_events_seq_positive CHECK (seq > 0),
    ADD CONSTRAINT audit_events_hash_size CHECK (octet_length(prev_hash) = 32 AND octet_length(hash) = 32);

-- The end of the chain. Writers lock this row to append (one chain, one order across every
-- projections instance); the verifier compares it with the last row, so rows cut off the end are
-- noticed too.
CREATE TABLE audit_chain_head (
    id         smallint    PRIMARY KEY CHECK (id = 1),
    last_seq   bigint      NOT NULL CHECK (last_seq >= 0),
    last_hash  bytea       NOT NULL CHECK (octet_length(last_hash) = 32),
    updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO audit_chain_head (id, last_seq, last_hash)
SELECT 1, coalesce(max(seq), 0),
       coalesce((SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1),
                '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
FROM audit_events;

-- Append-only, for every role including the owner: UPDATE, DELETE and TRUNCATE are refused unless
-- the current role is a member of agentbus_audit_break_glass (superusers are) and the session
-- said why with SET agentbus.audit_break_glass = '<reason>'. Each break-glass use is logged.
CREATE FUNCTION audit_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    reason text := nullif(current_setting('agentbus.audit_break_glass', true), '');
BEGIN
    IF reason IS NOT NULL AND pg_has_role(current_user, 'agentbus_audit_break_glass', 'MEMBER') THEN
        RAISE WARNING 'audit break-glass: % on % by % (session user %): %', TG_OP, TG_TABLE_NAME, current_user, session_user, reason;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Only a member of agentbus_audit_break_glass can, after SET agentbus.audit_break_glass = ''<reason>''; see docs/audit.md.';
END
$$;

CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

CREATE TRIGGER audit_chain_head_keep
    BEFORE DELETE OR TRUNCATE ON audit_chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- The head only moves forward, and only onto a row that is in the log with that hash.
CREATE FUNCTION audit_chain_head_advance() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF nullif(current_setting('agentbus.audit_break_glass', true), '') IS NOT NULL
       AND pg_has_role(current_user, 'agentbus_audit_break_glass', 'MEMBER') THEN
        RETURN NEW;
    END IF;
    IF NEW.id <> OLD.id OR NEW.last_seq < OLD.last_seq THEN
        RAISE EXCEPTION 'the audit chain head only moves forward (from % to % refused)', OLD.last_seq, NEW.last_seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.last_seq > 0 AND NOT EXISTS (SELECT FROM audit_events WHERE seq = NEW.last_seq AND hash = NEW.last_hash) THEN
        RAISE EXCEPTION 'the audit chain head must name the last row and its hash (row % with that hash is not in the log)', NEW.last_seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_chain_head_forward
    BEFORE UPDATE ON audit_chain_head
    FOR EACH ROW EXECUTE FUNCTION audit_chain_head_advance();
