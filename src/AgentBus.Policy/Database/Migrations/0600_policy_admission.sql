-- The first policy_admit: admission (kill switch, idempotency claim, rates, run caps, budget
-- reservation, the decision's row) in one round trip instead of ~17 statements. Databases migrated
-- before 0702 ran its first version from this file; 0702 replaces it with the same rules composed of
-- one function per rule, and is now the only definition, so a new database skips this version.
SELECT 1;
