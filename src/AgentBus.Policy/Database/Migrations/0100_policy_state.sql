-- Policy state shared by every policy instance: the kill switch, decisions by action id,
-- idempotency claims, rate windows, run caps, budget counters and the cost ledger. Every check
-- that limits something is one atomic statement on a locked row, never a read then a write.

-- The kill switch. A row means suspended; resuming deletes it. Executors read it too, to refuse
-- commands already queued for a suspended agent or tool.
CREATE TABLE policy_suspensions (
    kind          text        NOT NULL CHECK (kind IN ('agent', 'tool')),
    name          text        NOT NULL,
    suspended_by  text        NOT NULL,
    reason        text,
    suspended_at  timestamptz NOT NULL,
    PRIMARY KEY (kind, name)
);

-- Every decision on a well-formed proposal, by action id: a redelivered or re-sent proposal gets
-- the same answer (and the same message ids), never a second evaluation.
CREATE TABLE policy_actions (
    action_id           text          PRIMARY KEY,
    agent_id            text          NOT NULL,
    run_id              text          NOT NULL,
    tool                text          NOT NULL,
    arguments_hash      text          NOT NULL,
    idempotency_key     text,
    decision            text          NOT NULL CHECK (decision IN ('allowed', 'denied', 'approval_required')),
    reason_code         text          NOT NULL,
    reason              text          NOT NULL,
    rule_id             text,
    policy_version      text,
    -- Set when this proposal repeated an admitted action: it gets that action's decision and outcome.
    duplicate_of        text,
    estimated_cost_usd  numeric(18,6) NOT NULL DEFAULT 0,
    approval            jsonb,
    decided_at          timestamptz   NOT NULL,
    outcome             text          CHECK (outcome IN ('succeeded', 'failed', 'outcome_unknown')),
    outcome_type        text,
    outcome_payload     jsonb,
    outcome_at          timestamptz
);

CREATE INDEX policy_actions_duplicate_idx ON policy_actions (duplicate_of) WHERE duplicate_of IS NOT NULL;
CREATE INDEX policy_actions_run_idx ON policy_actions (run_id, agent_id);

-- "The same action": an idempotency key, or the same run, tool and canonical arguments. The first
-- admitted action claims the key until expires_at; later claimants are duplicates of it.
CREATE TABLE policy_idempotency (
    agent_id    text        NOT NULL,
    dedupe_key  text        NOT NULL,
    action_id   text        NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (agent_id, dedupe_key)
);

-- Calls admitted per minute, per agent ('agent') and per tool ('tool'): a sliding window over two
-- fixed one-minute windows.
CREATE TABLE policy_rate_windows (
    scope         text        NOT NULL CHECK (scope IN ('agent', 'tool')),
    subject       text        NOT NULL,
    window_start  timestamptz NOT NULL,
    calls         integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, subject, window_start)
);

-- Per-run caps: admitted tool calls and wall-clock time since the run's first admitted call.
CREATE TABLE policy_runs (
    agent_id    text        NOT NULL,
    run_id      text        NOT NULL,
    started_at  timestamptz NOT NULL,
    tool_calls  integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, run_id)
);

-- Admitted attempts of the same action (tool + canonical arguments) within a run; attempts - 1 are retries.
CREATE TABLE policy_run_attempts (
    agent_id        text    NOT NULL,
    run_id          text    NOT NULL,
    tool            text    NOT NULL,
    arguments_hash  text    NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, run_id, tool, arguments_hash)
);

-- Budget counters, one row per agent and period ('day:YYYY-MM-DD' in UTC, or 'run:<run id>').
-- A reservation succeeds only while spent + reserved + cost stays within the limit, in one UPDATE.
CREATE TABLE budget_usage (
    agent_id      text          NOT NULL,
    period        text          NOT NULL,
    reserved_usd  numeric(18,6) NOT NULL DEFAULT 0 CHECK (reserved_usd >= 0),
    spent_usd     numeric(18,6) NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, period)
);

-- The cost ledger: one row per charge. A tool call is reserved at its estimate when admitted,
-- then settled at the executor's actual cost, or released (denied, failed before it ran, or no
-- outcome before expires_at). Reported inference spend is recorded settled. Money counts where
-- status = 'settled': cost per run is SUM(amount_usd) ... GROUP BY run_id.
CREATE TABLE cost_ledger (
    entry_id      bigint        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source        text          NOT NULL CHECK (source IN ('tool', 'inference')),
    agent_id      text          NOT NULL,
    run_id        text          NOT NULL,
    day           date          NOT NULL,
    action_id     text,
    report_id     text,
    tool          text,
    category      text,
    description   text,
    status        text          NOT NULL CHECK (status IN ('reserved', 'settled', 'released')),
    reserved_usd  numeric(18,6) NOT NULL DEFAULT 0,
    amount_usd    numeric(18,6) NOT NULL DEFAULT 0,
    recorded_at   timestamptz   NOT NULL,
    expires_at    timestamptz,
    settled_at    timestamptz,
    CONSTRAINT cost_ledger_action_key UNIQUE (action_id),
    CONSTRAINT cost_ledger_report_key UNIQUE (agent_id, report_id),
    CHECK ((source = 'tool') = (action_id IS NOT NULL)),
    CHECK ((source = 'inference') = (report_id IS NOT NULL))
);

CREATE INDEX cost_ledger_run_idx       ON cost_ledger (run_id, agent_id);
CREATE INDEX cost_ledger_agent_day_idx ON cost_ledger (agent_id, day);
CREATE INDEX cost_ledger_expiring_idx  ON cost_ledger (expires_at) WHERE status = 'reserved';
