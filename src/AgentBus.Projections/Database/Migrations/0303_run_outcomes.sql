-- What a run summary needs for the run story and the gates: how many actions were proposed and
-- authorized, how many outcomes are unknown, and the agent's own report of how the run ended
-- (RunCompleted; the first report counts).

ALTER TABLE run_summaries
    ADD COLUMN actions_proposed        integer NOT NULL DEFAULT 0,
    ADD COLUMN actions_authorized      integer NOT NULL DEFAULT 0,
    ADD COLUMN actions_outcome_unknown integer NOT NULL DEFAULT 0,
    ADD COLUMN completed_at            timestamptz,
    ADD COLUMN succeeded               boolean,
    ADD COLUMN completion_summary      text;

CREATE INDEX run_summaries_first_event_idx ON run_summaries (first_event_at);
-- Gates and cost reports select a time window. Rows arrive roughly in time order, so a BRIN index
-- answers that for a fraction of a B-tree's size and write cost.
CREATE INDEX audit_events_occurred_idx ON audit_events USING brin (occurred_at);
