-- The first policy_record_outcome: settling an executor's outcome in one round trip. Databases
-- migrated before 0702 ran its first version from this file; 0702 replaces it (adding the check of
-- the action's tool) and is now the only definition, so a new database skips this version.
SELECT 1;
