-- Dead letters an operator purged (`agentbus dlq purge`): moved here with the reason and who did it,
-- never silently deleted. Everything needed to replay one by hand later is kept: properties,
-- headers and the exact body bytes.

CREATE TABLE dead_letter_archive (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue             text        NOT NULL,
    -- The AMQP message id, or "sha256:<hex>" of the body when the message has none.
    message_key       text        NOT NULL,
    message_id        text,
    message_type      text,
    exception_type    text,
    exception_message text,
    faulted_at        timestamptz,
    action_id         text,
    run_id            text,
    original_sender   text,
    properties        jsonb       NOT NULL,
    headers           jsonb       NOT NULL,
    body              bytea       NOT NULL,
    reason            text        NOT NULL CHECK (length(btrim(reason)) > 0),
    operator          text        NOT NULL CHECK (length(btrim(operator)) > 0),
    archived_at       timestamptz NOT NULL DEFAULT now(),
    -- One row per dead-lettering of a message: a purge interrupted after its commit and run again
    -- archives nothing twice, while a message that failed again later (a new fault time) is kept again.
    CONSTRAINT dead_letter_archive_once UNIQUE NULLS NOT DISTINCT (queue, message_key, faulted_at)
);

CREATE INDEX dead_letter_archive_queue_idx  ON dead_letter_archive (queue, archived_at);
CREATE INDEX dead_letter_archive_action_idx ON dead_letter_archive (action_id) WHERE action_id IS NOT NULL;
