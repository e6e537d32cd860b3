-- The approval_required decision policy owes the agent, kept until the approval saga has opened the
-- approval (ApprovalOpened): only then is it sent, so the approvals API already knows the approval id
-- the agent hears of. The reason, the time it was decided and the proposal's AMQP message id (the
-- decision's correlation_id) are those of the proposal's evaluation.
ALTER TABLE policy_approvals
    ADD COLUMN IF NOT EXISTS decision_reason     text,
    ADD COLUMN IF NOT EXISTS decided_at          timestamptz,
    ADD COLUMN IF NOT EXISTS proposal_message_id text;
