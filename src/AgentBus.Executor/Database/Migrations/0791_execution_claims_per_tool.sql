-- Each executor's login sees and writes only its own tool's claims. Every executor login is in the
-- one group role agentbus_executor, which 0712 granted the whole table: a foothold in one tool's
-- executor could otherwise delete another tool's claim (and so have its tool called again on a
-- redelivery), mark it finished with an outcome of its choosing (which that tool's executor would
-- then publish, trusted, to a redelivered command), or claim another tool's action ids first.
--
-- Which tool a login belongs to comes from its name, as `agentbus db roles --logins` creates it:
-- <prefix>executor-<tool>. The tool is what follows the last "executor-": the policy refuses a tool
-- name that contains "executor-" (Names.NamesAnotherExecutorsLogin), so no login can pass for
-- another tool's. A login named otherwise sees no claim and can write none.
--
-- The table's owner (migrations, the operators' CLI) and SECURITY DEFINER functions are not subject
-- to row-level security; the auditor's read-only logins (and the console's, a member) read every row.
CREATE OR REPLACE FUNCTION execution_claims_tool_of_login() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT substring(current_user FROM '^.*executor-(.+)$');
$$;

ALTER TABLE execution_claims ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS execution_claims_own_tool ON execution_claims;
CREATE POLICY execution_claims_own_tool ON execution_claims TO agentbus_executor
    USING (tool = execution_claims_tool_of_login())
    WITH CHECK (tool = execution_claims_tool_of_login());

DROP POLICY IF EXISTS execution_claims_audited ON execution_claims;
CREATE POLICY execution_claims_audited ON execution_claims FOR SELECT TO agentbus_auditor USING (true);
