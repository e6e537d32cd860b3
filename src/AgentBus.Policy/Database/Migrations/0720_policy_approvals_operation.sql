-- An approval of a catalog operation must execute that operation and no other: the operation is
-- kept with the approved arguments and signed into the one ExecuteTool built from them.
ALTER TABLE policy_approvals ADD COLUMN IF NOT EXISTS operation text;
