-- Reconciler v2: leases fenced by a token on the database's clock,
-- reservations taken at admission, plans kept in PostgreSQL with their run,
-- approval of one run, per-project run numbers, fair claiming and
-- tombstones of deleted projects.

-- Every claim gets a fresh token; every write of the claimant is fenced on
-- it, so a pass that lost its lease can never write over the next one.
ALTER TABLE projects ADD COLUMN lease_token uuid;

-- What admission granted to a plan that is not applied yet: quota and
-- budget count greatest(applied, reserved), so two plans admitted at once
-- can never both fit in the room for one.
ALTER TABLE projects ADD COLUMN reserved_resources integer NOT NULL DEFAULT 0 CHECK (reserved_resources >= 0);
ALTER TABLE projects ADD COLUMN reserved_monthly_cost numeric(14,4) NOT NULL DEFAULT 0 CHECK (reserved_monthly_cost >= 0);
-- The newest plan's figures: what a Blocked project waits to fit.
ALTER TABLE projects ADD COLUMN planned_resources integer NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN planned_monthly_cost numeric(14,4) NOT NULL DEFAULT 0;
UPDATE projects SET reserved_resources = resource_count, reserved_monthly_cost = estimated_monthly_cost,
    planned_resources = resource_count, planned_monthly_cost = estimated_monthly_cost;

-- The saved plan awaiting approval (its run number; 0 none) and the run a
-- client approved. Apply happens only when the two are equal.
ALTER TABLE projects ADD COLUMN pending_plan_run bigint NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN approved_run bigint NOT NULL DEFAULT 0;
-- An admin asked to finish a destroy that cannot complete: destroy from
-- state alone, then remove the row whatever happens.
ALTER TABLE projects ADD COLUMN force_destroy boolean NOT NULL DEFAULT false;

-- Runs are numbered per project incarnation (1, 2, 3...): the number is
-- what the API calls the run's id.
ALTER TABLE runs ADD COLUMN number bigint;
UPDATE runs r SET number = n.number FROM (
    SELECT id, row_number() OVER (PARTITION BY project_uid ORDER BY id) AS number FROM runs) n
WHERE r.id = n.id;
ALTER TABLE runs ALTER COLUMN number SET NOT NULL;
CREATE UNIQUE INDEX runs_project_number ON runs (project_uid, number);
-- The planfile of a plan run, kept until it is applied or superseded.
ALTER TABLE runs ADD COLUMN planfile bytea;
-- Structured terraform diagnostics of a failed run.
ALTER TABLE runs ADD COLUMN diagnostics jsonb;
ALTER TABLE runs ADD COLUMN reason text NOT NULL DEFAULT '';

-- Round-robin claiming across users: the user served longest ago goes
-- first.
CREATE TABLE user_claims (
    user_id         text        PRIMARY KEY,
    last_claimed_at timestamptz NOT NULL
);

-- The final status of deleted or expired projects, kept for RUN_RETENTION
-- with their runs: the API answers 410 Gone instead of 404.
CREATE TABLE project_tombstones (
    user_id     text        NOT NULL,
    project_id  text        NOT NULL,
    uid         uuid        NOT NULL PRIMARY KEY,
    generation  bigint      NOT NULL,
    status      jsonb       NOT NULL,
    reason      text        NOT NULL,
    deleted_at  timestamptz NOT NULL
);
CREATE INDEX project_tombstones_key ON project_tombstones (user_id, project_id, deleted_at DESC);
CREATE INDEX runs_started ON runs (started_at);
