-- Desired state (spec, written by the API), metadata, and status (written by
-- the reconciler) of every tenant project. README.md, "How the reconciler works", describes them.
CREATE TABLE projects (
    user_id                 text        NOT NULL,
    project_id              text        NOT NULL,
    -- uid tells a re-created project apart from an earlier one of the same
    -- name; run history hangs off it.
    uid                     uuid        NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    spec                    jsonb       NOT NULL,
    -- generation counts spec changes; only the API bumps it.
    generation              bigint      NOT NULL DEFAULT 1,
    -- revision counts every client write (spec, deletion, extend, approve,
    -- quota change): a reconcile that started on an older revision must look
    -- again when it finishes.
    revision                bigint      NOT NULL DEFAULT 1,
    approved_generation     bigint      NOT NULL DEFAULT 0,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    expires_at              timestamptz NOT NULL,
    deletion_requested_at   timestamptz,

    phase                   text        NOT NULL DEFAULT 'Pending',
    observed_generation     bigint      NOT NULL DEFAULT 0,
    conditions              jsonb       NOT NULL DEFAULT '[]',
    resource_count          integer     NOT NULL DEFAULT 0,
    estimated_monthly_cost  numeric(14,4) NOT NULL DEFAULT 0,
    outputs                 jsonb       NOT NULL DEFAULT '{}',
    status_message          text        NOT NULL DEFAULT '',
    last_error              text        NOT NULL DEFAULT '',
    last_applied_at         timestamptz,
    attempts                integer     NOT NULL DEFAULT 0,
    next_attempt_at         timestamptz,

    -- Scheduling: a row is due when due_at has passed and no live lease
    -- holds it.
    due_at                  timestamptz NOT NULL,
    lease_owner             text,
    lease_expires_at        timestamptz,

    PRIMARY KEY (user_id, project_id)
);
CREATE INDEX projects_due_at ON projects (due_at);
CREATE INDEX projects_phase ON projects (phase);

-- One row per terraform plan/apply/destroy. Runs outlive their project row
-- (audit), so they refer to the project's uid, not a foreign key.
CREATE TABLE runs (
    id                      bigserial   PRIMARY KEY,
    project_uid             uuid        NOT NULL,
    user_id                 text        NOT NULL,
    project_id              text        NOT NULL,
    generation              bigint      NOT NULL,
    operation               text        NOT NULL CHECK (operation IN ('plan', 'apply', 'destroy')),
    reconcile_id            text        NOT NULL,
    owner                   text        NOT NULL,
    started_at              timestamptz NOT NULL,
    finished_at             timestamptz,
    outcome                 text        NOT NULL DEFAULT 'running' CHECK (outcome IN ('running', 'succeeded', 'failed')),
    plan_summary            jsonb,
    cost_estimate           jsonb,
    estimated_monthly_cost  numeric(14,4),
    log_tail                text        NOT NULL DEFAULT '',
    error                   text        NOT NULL DEFAULT ''
);
CREATE INDEX runs_project ON runs (project_uid, id DESC);
-- The "apply started" markers a crashed reconciler may have left.
CREATE INDEX runs_unfinished ON runs (project_uid) WHERE finished_at IS NULL;

-- Per-user limits that replace MAX_RESOURCES_PER_USER / MAX_COST_PER_PROJECT.
CREATE TABLE user_quotas (
    user_id                 text        PRIMARY KEY,
    max_resources           integer     CHECK (max_resources >= 0),
    max_monthly_cost_usd    numeric(14,4) CHECK (max_monthly_cost_usd >= 0),
    updated_at              timestamptz NOT NULL
);

-- Wake reconcilers on every client write. The payload is "user_id/project_id";
-- listeners must re-read the row (level-triggered), never trust the payload.
CREATE FUNCTION tenantform_notify_project() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tenantform_projects', NEW.user_id || '/' || NEW.project_id);
    RETURN NULL;
END
$$;
CREATE TRIGGER projects_notify
    AFTER INSERT OR UPDATE OF revision ON projects
    FOR EACH ROW EXECUTE FUNCTION tenantform_notify_project();
