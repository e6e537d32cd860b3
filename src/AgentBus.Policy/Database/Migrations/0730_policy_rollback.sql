-- Rollback builds a compensation's arguments from the original action's arguments and result. The
-- result is already here (outcome_payload); the arguments are kept only for an operation whose
-- declared compensation reads them (catalog: compensation.arguments pointing into /arguments), so
-- the table does not become a second copy of every agent's inputs. Policy is allowed to UPDATE
-- policy_actions (0711), so no grant changes.
ALTER TABLE policy_actions ADD COLUMN IF NOT EXISTS undo_arguments jsonb;

-- A compensation that waits for approval is re-checked when it is granted, as the proposal it was:
-- including which action it undoes.
ALTER TABLE policy_approvals ADD COLUMN IF NOT EXISTS compensates text;
