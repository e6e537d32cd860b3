-- A command the policy service signed but the executor refused (its agent or tool suspended, its
-- authorization expired before any copy claimed it) is refused once and for all: the claim records
-- the refusal as the action's final state, so a later delivery of the same still-valid command (an
-- operator's replay, a redelivery after a crash, a resume of the agent) publishes that refusal again
-- instead of running the tool behind the audit's back.
ALTER TABLE execution_claims DROP CONSTRAINT execution_claims_state_check;
ALTER TABLE execution_claims ADD CONSTRAINT execution_claims_state_check
    CHECK (state IN ('running', 'succeeded', 'failed', 'outcome_unknown', 'refused'));
